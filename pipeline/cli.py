"""The `fashion-tfx` command line."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import stat
import sys
from pathlib import Path

# Importing the `pipeline` package has already kept library start-up noise off the terminal.
from pipeline.signals import INTERRUPTED_EXIT, handle_sigterm_as_interrupt, interruption
from serving.argument_types import ascii_float, ascii_int


def _add_run(subparsers) -> None:
    from pipeline.config import LOCAL_DEFAULT_PROFILE, PROFILES

    run = subparsers.add_parser("run", help="run the pipeline locally")
    run.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=LOCAL_DEFAULT_PROFILE,
        help=f"named settings (default: {LOCAL_DEFAULT_PROFILE})",
    )
    run.add_argument("--data-dir", help="folder with the four IDX files (default: found automatically)")
    from pipeline.config import default_root

    run.add_argument(
        "--root",
        default=str(default_root()),
        help=f"where artifacts and ML Metadata go (default: {default_root()}, whatever the current folder)",
    )
    run.add_argument(
        "--allow-foreign-data",
        action="store_true",
        help="train on IDX files that are not the canonical Fashion-MNIST (refused otherwise); the "
        "model is still blessed only if it passes the canonical golden set",
    )
    run.add_argument("--image-size", type=ascii_int, help="side of the upscaled images")
    run.add_argument("--seed", type=ascii_int, help="seed for the eval split and training")
    from models.settings import ModelSettings

    run.add_argument(
        "--learning-rate",
        type=ascii_float,
        help="the optimiser's peak rate: the Trainer's when no Tuner runs, and the Tuner's first trial "
        f"(default: {ModelSettings.learning_rate:g})",
    )
    run.add_argument(
        "--max-accuracy-drop",
        type=ascii_float,
        help="largest test-accuracy drop against the served model that is still blessed (default: 0)",
    )
    run.add_argument(
        "--serving-base-path",
        help="where TF Serving sees the serving folder, written into models.config (default: /models, "
        "the documented container mount; a bucket root's own URI)",
    )
    run.add_argument("--no-cache", action="store_true", help="re-execute every component")
    # For tests and debugging: end the pipeline with this node id (pipeline/nodes.py); not in --help.
    run.add_argument("--stop-after", metavar="NODE_ID", help=argparse.SUPPRESS)
    run.add_argument(
        "--verbose",
        action="store_true",
        help="also show warnings from TFX, Beam and TensorFlow (all library output is in the run's log file)",
    )


def _add_data(subparsers) -> None:
    data = subparsers.add_parser("data", help="find (or download) and verify the Fashion-MNIST files")
    data.add_argument("--data-dir", help="folder with the four IDX files")
    data.add_argument("--no-download", action="store_true", help="fail rather than download")


def _add_kubeflow(subparsers) -> None:
    from kubeflow import cli as kubeflow_cli

    kubeflow_cli.add_parser(subparsers)


def _add_predict(subparsers) -> None:
    from serving import predict_command

    predict = subparsers.add_parser("predict", help="classify PNG files or data set images with the model")
    predict_command.add_arguments(predict)


def _add_embed(subparsers) -> None:
    from serving import embed_command

    embed = subparsers.add_parser("embed", help="embed images (folders, TFRecord files) into .npy or Parquet")
    embed_command.add_embed_arguments(embed)
    similar = subparsers.add_parser("similar", help="find the catalogue items nearest to an image")
    embed_command.add_similar_arguments(similar)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one `fashion-tfx: error:` line, like every other bad input."""

    def error(self, message: str):
        self.exit(2, f"fashion-tfx: error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of `fashion-tfx`."""
    parser = _Parser(prog="fashion-tfx", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_run(subparsers)
    _add_data(subparsers)
    _add_kubeflow(subparsers)
    _add_predict(subparsers)
    _add_embed(subparsers)
    return parser


def _command_data(args) -> int:
    from data import fashion_mnist

    # This command reports what it finds: foreign data is described, not refused.
    location = fashion_mnist.locate(args.data_dir, allow_foreign=True, allow_download=not args.no_download)
    kind = "canonical Fashion-MNIST" if location.canonical else "NOT canonical Fashion-MNIST"
    print(f"data: {location.directory} ({location.origin}; {kind}; fingerprint {location.fingerprint})")
    return 0


def _command_run(args, golden_installed: list[Path] | None = None) -> int:
    from data import fashion_mnist
    from data.golden import load_golden_set
    from models.settings import describe_arithmetic
    from pipeline.config import make_config
    from pipeline.storage import check_root

    # Everything that can refuse the run is checked before TensorFlow is imported (seconds, not tens
    # of seconds) and before the root is created: a refused run leaves nothing behind.
    overrides = dict(
        image_size=args.image_size,
        seed=args.seed,
        learning_rate=args.learning_rate,
        max_accuracy_drop=args.max_accuracy_drop,
        serving_base_path=args.serving_base_path,
    )
    early_config = make_config(args.profile, args.root, **overrides)
    check_root(early_config, create=False)
    if args.stop_after is not None:
        from pipeline.pipeline import create_components

        create_components(early_config, args.stop_after)  # a ConfigError names the pipeline's node ids
    location = fashion_mnist.locate(args.data_dir, allow_foreign=args.allow_foreign_data)
    # Fail closed before any work: without the golden set no model could be blessed.
    golden = load_golden_set([location.directory], installed=golden_installed)
    config = make_config(
        args.profile,
        args.root,
        **overrides,
        data_dir=str(location.directory),
        data_fingerprint=location.fingerprint,
        allow_foreign_data=args.allow_foreign_data,
        enable_cache=False if args.no_cache else None,
    )
    from pipeline import summary  # imports TensorFlow
    from pipeline.local_runner import run_pipeline

    header = f"fashion-tfx: {config.profile} profile, root {config.root}"  # the data: on the next line
    print(summary.relative_to_cwd(header), file=sys.stderr)
    description = fashion_mnist.describe_provenance(
        location.directory, location.canonical, location.fingerprint
    )
    print(f"fashion-tfx: data: {description}", file=sys.stderr)
    arithmetic, slow = describe_arithmetic(config.model.precision)
    print(f"fashion-tfx: {'WARNING: ' if slow else ''}{arithmetic}", file=sys.stderr)
    if not location.canonical:
        print(
            "fashion-tfx: WARNING: training on FOREIGN data; the model is blessed only if it also "
            "reaches the accuracy floor on the canonical golden set",
            file=sys.stderr,
        )
        resemblance = _describe_resemblance(location.directory, golden)
        if resemblance:
            print(f"fashion-tfx: WARNING: {resemblance}", file=sys.stderr)
    result = run_pipeline(config, verbose=args.verbose, stop_after=args.stop_after)
    print(summary.render(result))
    if result.interrupted:
        return getattr(result.error, "exit_code", INTERRUPTED_EXIT)
    return 0 if result.ok else 1


def _describe_resemblance(directory, golden) -> str | None:
    """Compares the training classes' mean images with the golden set's (see data/golden.py)."""
    from data import fashion_mnist as fm
    from data.golden import class_resemblance, describe_resemblance
    from data.idx import read_idx_pair

    images, labels = read_idx_pair(
        fm.file_path(directory, fm.TRAIN_IMAGES), fm.file_path(directory, fm.TRAIN_LABELS)
    )
    return describe_resemblance(class_resemblance(images, labels, golden))


def _quiet_logging(verbose: bool) -> None:
    """Keeps library chatter (Beam, absl, TensorFlow) off the terminal unless asked for."""
    level = logging.WARNING if verbose else logging.ERROR
    for name in ("absl", "apache_beam", "tensorflow", "tfx", "root"):
        logging.getLogger(None if name == "root" else name).setLevel(level)


def _command_predict(args) -> int:
    from serving import predict_command

    return predict_command.run(args)


def _command_embed(args) -> int:
    from serving import embed_command

    return embed_command.run_embed(args)


def _command_similar(args) -> int:
    from serving import embed_command

    return embed_command.run_similar(args)


def _command_kubeflow(args) -> int:
    from kubeflow import cli as kubeflow_cli

    return kubeflow_cli.run(args)


# Why writing to the console (standard output or error, redirected to a file or a pipe) can fail.
_CONSOLE_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EPIPE, errno.EFBIG)
CONSOLE_LOST_EXIT = 1


def _console_full(err: OSError) -> bool:
    """Returns whether a write error is the console's: a closed pipe, or stdout or stderr on a full disk."""
    if err.errno == errno.EPIPE:
        return True
    for fd in (1, 2):
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode) and os.fstatvfs(fd).f_bavail == 0:
                return True
        except OSError:
            return True
    return False


def _console_lost(err: OSError) -> int:
    """Says, if it still can, that the output could not be written; then ends without another error.

    With standard output on a full disk, every later write (Python's flush at exit, the traceback of
    that failure, `sys.excepthook`'s own error) fails too, and ending in that state was seen to end in
    a segmentation fault. Both descriptors are pointed at /dev/null once the one line is out (or lost).
    """
    try:
        sys.stderr.write(f"fashion-tfx: error: cannot write the output: {err.strerror}\n")
        sys.stderr.flush()
    except OSError:
        pass  # standard error is on the same full disk: the exit code is all that is left
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    return CONSOLE_LOST_EXIT


def main(argv: list[str] | None = None, *, golden_installed: list[Path] | None = None) -> int:
    """Entry point of the `fashion-tfx` console script.

    Args:
        argv: the arguments after the program name (default: the process's own).
        golden_installed: where `run` looks for installed copies of the golden set after the run's data
            folder (see `data.golden.load_golden_set`); None, as from the console, means the Debian
            package's folder and the user cache. Tests pass folders that hold none.
    """
    from data.fashion_mnist import DatasetError
    from pipeline.config import ConfigError
    from pipeline.root_lock import RunInProgressError
    from pipeline.storage import MetadataStoreError, StorageError

    handle_sigterm_as_interrupt()
    args = build_parser().parse_args(argv)
    _quiet_logging(verbose=getattr(args, "verbose", False))
    commands = {
        "run": lambda args: _command_run(args, golden_installed),
        "data": _command_data,
        "kubeflow": _command_kubeflow,
        "predict": _command_predict,
        "embed": _command_embed,
        "similar": _command_similar,
    }
    try:
        code = commands[args.command](args)
    except OSError as err:
        if err.errno not in _CONSOLE_WRITE_ERRORS:
            raise
        if _console_full(err):
            return _console_lost(err)
        where = f" {err.filename}" if err.filename else ""
        print(f"fashion-tfx: error: cannot write{where}: {err.strerror}", file=sys.stderr)
        return 1
    except (ConfigError, DatasetError, StorageError, MetadataStoreError, RunInProgressError) as err:
        print(f"fashion-tfx: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM
        # Outside a pipeline run (which reports what it finished): nothing was half-done worth naming.
        how, code = interruption(interrupt)
        print(f"fashion-tfx: interrupted ({how})", file=sys.stderr)
        return code
    try:
        sys.stdout.flush()  # here, not at exit: a console on a full disk fails now, where it is handled
    except OSError as err:
        if err.errno not in _CONSOLE_WRITE_ERRORS:
            raise
        return _console_lost(err)
    return code


def console_main() -> None:
    """Entry point of the `fashion-tfx` console script: `main`, then an exit with its code.

    A process that used TensorFlow's S3 filesystem leaves by `pipeline.s3.exit_after`, so its exit
    code is the command's own (tensorflow-io 0.37.1 would otherwise abort it at exit with code 134).
    """
    from pipeline.s3 import exit_after

    exit_after(main)


if __name__ == "__main__":
    console_main()
