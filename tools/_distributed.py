# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Options of the training scripts for data-parallel training with torchrun.

``torchrun --nproc-per-node 2 tools/train_pretrained.py convdip --strategy ddp``
starts two processes (one per GPU with ``--device cuda``: NCCL; on CPUs: gloo);
each trains with its share of every batch, and the first writes the files.
"""

import os


def add_arguments(parser):
    """Add ``--strategy`` and ``--checkpoint`` to a training script's parser."""
    parser.add_argument("--strategy", choices=("single", "ddp"), default="single",
                        help="ddp: data-parallel over the processes that "
                             "torchrun starts (NCCL on GPUs, gloo on CPUs)")
    parser.add_argument("--checkpoint", default=None,
                        help="file of the training state, saved every epoch; a "
                             "stopped run resumes from it")


def setup(args):
    """Initialise the process group for ``--strategy ddp``; return (device, rank).

    With CUDA each process trains on the GPU of its ``LOCAL_RANK``.
    """
    if args.strategy != "ddp":
        return args.device, 0
    import torch

    if "RANK" not in os.environ:
        raise SystemExit("--strategy ddp needs the processes that torchrun starts: "
                         "torchrun --nproc-per-node N tools/... --strategy ddp")
    cuda = args.device.startswith("cuda")
    torch.distributed.init_process_group("nccl" if cuda else "gloo")
    device = args.device
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    return device, torch.distributed.get_rank()


def teardown(args):
    """Leave the process group."""
    if args.strategy == "ddp":
        import torch

        torch.distributed.destroy_process_group()
