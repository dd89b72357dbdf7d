"""Clients and deployment helpers for the model served by TF Serving (REST, gRPC, in-process)."""
