"""Operating deployed endpoints: the post-deploy check and the ``cdk diff`` explainer.

Command line: ``python -m operations check ...`` (:mod:`operations.check`) and
``python -m operations diff ...`` (:mod:`operations.diff`). Both talk to AWS through boto3's normal
configuration (``AWS_ENDPOINT_URL`` and friends point them at the local rehearsal) and import only
``model_build`` from this project.
"""
