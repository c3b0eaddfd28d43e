"""labelops Python client for MLOps: fetch dataset versions as pyarrow / pandas / Hugging Face.

from labelops_client import Client

table = Client("127.0.0.1:50056").dataset("zoo-train").version(3).to_arrow()
"""

from .datasets import Client, Dataset, Version

__all__ = ["Client", "Dataset", "Version"]
