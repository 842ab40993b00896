"""The real Triton Inference Server on this machine, and the KServe v2 codec clients speak to it.

One home for what the local rehearsal (:mod:`rehearsal`) and the tuning benchmark (:mod:`tuning`)
both need, so neither imports the other:

* :mod:`triton_runtime.server`: install the ``tritonserver`` binary from the ``nvidia-pytriton``
  wheel and run it (:class:`~triton_runtime.server.TritonServer`), loopback only;
* :mod:`triton_runtime.kserve`: KServe v2 JSON / binary request and response bodies.
"""
