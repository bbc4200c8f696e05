"""Compare query-selection agents over seeds on an offline world (default: tinyweb, CIFAR-10 target).

    python experiments/compare_agents.py --mode frozen --agents random,gp --seeds 3 --budget 1024 --out DIR
    python experiments/compare_agents.py --ray [ADDRESS] ...    # every episode a Ray task (no address: local)

The command line of :func:`ie_env.run.compare.compare_agents` (its options are the fields of
:class:`ie_env.run.compare.CompareConfig`). Writes ``DIR/runs.json``, ``DIR/summary.json``, ``DIR/summary.csv``
and PNG plots (and TensorBoard scalars with ``--tensorboard LOGDIR``), and the report page ``DIR/report/index.html``
(:mod:`ie_env.run.webpage`); prints a summary table, where the files are and, last, the page's path; ``--json`` adds
the summary (with the page's path under ``report``) as one JSON line after it. ``--preset`` takes the name of
either preset table (:mod:`ie_env.run.preset_names`); the options given on the command line win over it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ie_env.run.compare import CompareConfig, compare_agents, print_summary
from ie_env.run.options import add_config_arguments, config_from_args, given, parse_options
from ie_env.run.webpage import write_report


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_config_arguments(ap, CompareConfig, only=tuple(f for f in CompareConfig.__dataclass_fields__
                                                         if f not in ("agent_options", "given")),
                         choices={"mode": ["frozen", "full"], "descriptors": ["visual", "none"],
                                  "device": ["cpu", "cuda"]},
                         consts={"ray": "local"})
    ap.add_argument("--agent-option", action="append", default=[], metavar="AGENT:KEY=VALUE",
                    help="an option of one agent, repeatable (gp:lengthscale=0.4, gp:signal=reward, ...)")
    ap.add_argument("--json", action="store_true", help="also print the summary as one JSON line at the end")
    args = ap.parse_args(argv)
    agent_options: dict[str, dict] = {}
    for spec in args.agent_option:
        agent, sep, pair = spec.partition(":")
        if not sep or "=" not in pair:
            ap.error(f"--agent-option {spec!r}: write AGENT:KEY=VALUE for one of the agents compared ({args.agents})")
        agent_options.setdefault(agent, {}).update(parse_options([pair]))
    try:
        cfg = config_from_args(args, CompareConfig, agent_options=agent_options, given=tuple(sorted(given(args))))
    except ValueError as exc:
        ap.error(str(exc))
    summary = compare_agents(cfg)
    print_summary(summary, cfg.out)
    for f in summary["failed"]:
        print(f"FAILED on Ray (tried twice): {f['agent']} seed {f['seed']}: {f['error']}")
    summary["report"] = str(write_report(cfg.out, Path(cfg.out) / "report"))
    print(summary["report"])
    if args.json:
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
