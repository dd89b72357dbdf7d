"""The `fashion-tfx kubeflow` subcommands: `compile` a KFP spec and `submit` it to a cluster or Vertex AI."""

from __future__ import annotations

import argparse
import sys

from kubeflow.settings import (
    DEFAULT_BEAM_ARGS,
    DEFAULT_COMPONENT_RESOURCES,
    DEFAULT_RESOURCES,
    DEFAULT_RUNTIME_PARAMETERS,
    DEFAULT_S3_SECRET,
    IMAGE_DATA_DIR,
    S3_SECRET_KEYS_TO_ENV,
    default_beam_args,
)
from pipeline.config import IN_MEMORY_BEAM_ARGS

DEFAULT_OUTPUT = "runs/kubeflow/fashion-tfx.yaml"


def _resources_pair(text: str) -> tuple[str, str]:
    component, sep, value = text.partition("=")
    if not sep or not component:
        raise argparse.ArgumentTypeError(f"expected COMPONENT=CPU,MEMORY_GB, got {text!r}")
    return component, value


def add_parser(subparsers) -> None:
    """Registers `kubeflow compile` and `kubeflow submit` under the `fashion-tfx` parser."""
    from pipeline.config import KUBEFLOW_DEFAULT_PROFILE, PROFILES
    from serving.argument_types import ascii_int

    kubeflow = subparsers.add_parser(
        "kubeflow", help="compile the pipeline for Kubeflow Pipelines, submit it"
    )
    commands = kubeflow.add_subparsers(dest="kubeflow_command", required=True)

    comp = commands.add_parser("compile", help="compile the pipeline into a KFP v2 YAML spec")
    comp.add_argument("--image", required=True, help="the pipeline image, with a tag or digest")
    comp.add_argument(
        "--pipeline-root",
        required=True,
        dest="root",
        help="run root: a gs:// or s3:// URI (the stores KFP's launcher and the pipeline both know); "
        "artifacts go under ROOT/pipeline, the served model under ROOT/serving",
    )
    secret_keys = ", ".join(f"{key} as {env}" for key, env in S3_SECRET_KEYS_TO_ENV.items())
    comp.add_argument(
        "--s3-endpoint",
        default="",
        metavar="URL",
        help="for an s3:// root: the S3 API as the pods reach it, e.g. http://minio-service.kubeflow:9000 "
        "for a default install's MinIO (default: none, AWS S3)",
    )
    comp.add_argument(
        "--s3-region", default="", help="for an s3:// root: the bucket's region (e.g. us-east-1)"
    )
    comp.add_argument(
        "--s3-secret",
        default=DEFAULT_S3_SECRET,
        metavar="NAME",
        help=f"for an s3:// root: the Kubernetes secret with the credentials ({secret_keys}) "
        "(default: %(default)s)",
    )
    comp.add_argument(
        "--output", default=DEFAULT_OUTPUT, help=f"the YAML to write (default: {DEFAULT_OUTPUT})"
    )
    comp.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=KUBEFLOW_DEFAULT_PROFILE,
        help=f"named settings (default: {KUBEFLOW_DEFAULT_PROFILE})",
    )
    comp.add_argument(
        "--data-dir", default=IMAGE_DATA_DIR, help=f"IDX folder in the pods (default: {IMAGE_DATA_DIR})"
    )
    comp.add_argument(
        "--data-fingerprint", default="", help="digest of that data (`fashion-tfx data` prints it)"
    )
    comp.add_argument(
        "--beam-arg",
        action="append",
        dest="beam_args",
        metavar="ARG",
        help="a Beam argument, repeatable, written with '=' (--beam-arg=--runner=DataflowRunner); "
        f"replaces the default {' '.join(DEFAULT_BEAM_ARGS)} ({' '.join(IN_MEMORY_BEAM_ARGS)} on s3://)",
    )
    default_table = ", ".join(f"{k} {v.cpu:g} CPU {v.memory_gb:g} GB" for k, v in DEFAULT_RESOURCES.items())
    comp.add_argument(
        "--resources",
        action="append",
        type=_resources_pair,
        default=[],
        metavar="COMPONENT=CPU,MEMORY_GB",
        help=f"one component's pod limits, repeatable (defaults: {default_table})",
    )
    comp.add_argument(
        "--default-resources",
        metavar="CPU,MEMORY_GB",
        default=f"{DEFAULT_COMPONENT_RESOURCES.cpu:g},{DEFAULT_COMPONENT_RESOURCES.memory_gb:g}",
        help="limits of every other component (default: %(default)s)",
    )
    comp.add_argument(
        "--runtime-parameter",
        action="append",
        dest="runtime_parameters",
        metavar="COMPONENT.PARAMETER",
        help="expose a parameter as a run parameter, repeatable "
        f"(default: {' '.join(DEFAULT_RUNTIME_PARAMETERS)})",
    )
    comp.add_argument(
        "--allow-foreign-data",
        action="store_true",
        help="let the pods ingest IDX data that is not the canonical Fashion-MNIST (refused otherwise); "
        "the model is still blessed only if it passes the canonical golden set",
    )
    comp.add_argument("--image-size", type=ascii_int, help="side of the upscaled images")
    comp.add_argument("--seed", type=ascii_int, help="seed for the eval split and training")
    comp.add_argument("--no-cache", action="store_true", help="turn KFP's step cache off in the spec")

    sub = commands.add_parser(
        "submit", help="start a run of a compiled spec on a KFP 2.x cluster or on Vertex AI Pipelines"
    )
    target = sub.add_mutually_exclusive_group(required=True)
    target.add_argument("--host", help="the KFP API endpoint, e.g. http://localhost:8080")
    target.add_argument(
        "--vertex", action="store_true", help="run on Vertex AI Pipelines (with --project and --region)"
    )
    sub.add_argument("--project", help="Vertex AI: the Google Cloud project")
    sub.add_argument("--region", help="Vertex AI: the region, e.g. europe-west4")
    sub.add_argument(
        "--package", default=DEFAULT_OUTPUT, help=f"the compiled YAML (default: {DEFAULT_OUTPUT})"
    )
    sub.add_argument("--experiment", default="fashion-tfx", help="experiment name (default: fashion-tfx)")
    sub.add_argument("--run-name", help="the run's display name")
    sub.add_argument("--namespace", help="Kubernetes namespace (multi-user installations)")
    sub.add_argument("--service-account", help="Kubernetes service account for the pods")
    sub.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a run parameter, repeatable"
    )


def _command_compile(args) -> int:
    from kubeflow.runner import compile_pipeline
    from kubeflow.settings import KubeflowSettings, Resources

    # argparse treats a value of `--` as its separator and hands back an empty list in its place.
    beam_args = [arg if isinstance(arg, str) else "--" for arg in args.beam_args or []]
    settings = KubeflowSettings(
        image=args.image,
        root=args.root,
        data_dir=args.data_dir,
        data_fingerprint=args.data_fingerprint,
        beam_args=tuple(beam_args) if beam_args else default_beam_args(args.root),
        resources={component: Resources.parse(value) for component, value in args.resources},
        default_resources=Resources.parse(args.default_resources),
        runtime_parameters=(
            tuple(args.runtime_parameters)
            if args.runtime_parameters is not None
            else DEFAULT_RUNTIME_PARAMETERS
        ),
        s3_endpoint=args.s3_endpoint,
        s3_region=args.s3_region,
        s3_secret=args.s3_secret,
    )
    output = compile_pipeline(
        settings,
        args.output,
        args.profile,
        image_size=args.image_size,
        seed=args.seed,
        enable_cache=False if args.no_cache else None,
        allow_foreign_data=True if args.allow_foreign_data else None,
    )
    print(f"compiled {output} (image {settings.image}, root {settings.root})")
    return 0


def _command_submit_vertex(args, arguments: dict[str, object]) -> int:
    from kubeflow.vertex import submit_to_vertex, vertex_job
    from pipeline.config import ConfigError

    if not args.project or not args.region:
        raise ConfigError("--vertex needs --project and --region (the Google Cloud project and region)")
    job = vertex_job(
        args.package, arguments, project=args.project, location=args.region, display_name=args.run_name
    )
    try:
        run = submit_to_vertex(job, service_account=args.service_account)
    except Exception as err:  # google-api-core raises auth, permission and API errors of several kinds
        print(f"fashion-tfx: error: submitting to Vertex AI ({args.project}, {args.region}) failed: {err}",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"run {run.run_id}: {run.url}")
    return 0


def _command_submit(args) -> int:
    from kubeflow.submit import parameter_fields, parse_arguments, read_parameters, submit

    arguments = parse_arguments(args.param, read_parameters(args.package), parameter_fields(args.package))
    if args.vertex:
        return _command_submit_vertex(args, arguments)
    try:
        run = submit(
            args.host,
            args.package,
            arguments,
            experiment=args.experiment,
            run_name=args.run_name,
            namespace=args.namespace,
            service_account=args.service_account,
        )
    except Exception as err:  # the kfp client raises connection and API errors of several kinds
        print(f"fashion-tfx: error: submitting to {args.host} failed: {err}", file=sys.stderr)
        return 1
    print(f"run {run.run_id}: {run.url}")
    return 0


def run(args) -> int:
    """Runs the `kubeflow` subcommand the parsed arguments name."""
    from kubeflow.runner import CompileError
    from pipeline.config import ConfigError

    commands = {"compile": _command_compile, "submit": _command_submit}
    try:
        return commands[args.kubeflow_command](args)
    except (CompileError, ConfigError) as err:
        print(f"fashion-tfx: error: {err}", file=sys.stderr)
        return 2
