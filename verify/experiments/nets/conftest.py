"""pytest collects these modules' doctests only where PyTorch is installed (the optional extra ``nets``)."""
from verify.experiments.nets.backend import torch_available

collect_ignore_glob = [] if torch_available() else ["*.py"]
