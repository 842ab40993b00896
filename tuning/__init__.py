"""Load generation, the tuning matrix, the derived cost table and the recommender.

Seed 000 sizes a SageMaker + Triton deployment by measuring each Triton configuration
(``base``, ``db``, ``ig``, ``ig-db``) and deriving invocations per minute per instance,
the instance count for a target load and its cost. This package does the same against a
real Triton server (or a SageMaker endpoint) and writes the winner as a
:class:`model_build.profile.TuningProfile` that the constructs deploy, with the hardware it
was measured on.

Modules, one concept each:

* :mod:`triton_runtime.kserve` (shared with the rehearsal): KServe v2 JSON / binary request bodies, encoded once.
* :mod:`tuning.transports`: where requests go (HTTP ``/invocations`` or boto3).
* :mod:`tuning.loadgen`: closed-loop users in several processes; fixed or phased load.
* :mod:`tuning.stats`: latency percentiles and Triton statistics deltas.
* :mod:`tuning.sysmon`: client CPU (psutil) and GPU utilization (NVML / nvidia-smi).
* :mod:`tuning.pricing`: instance prices, from ``prices.json`` (one file, a source and date per row).
* :mod:`tuning.derive`: seed 000's derived table (instances, or GPUs priced per GPU, and cost).
* :mod:`tuning.recommend`: the cheapest configuration that meets the latency target.
* :mod:`tuning.matrix`: the configurations, built and served side by side.
* :mod:`tuning.report`: markdown table and PNG charts.
"""
