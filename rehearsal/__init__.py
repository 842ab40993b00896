"""The local rehearsal: real Triton server, moto control plane, local SageMaker data plane."""
