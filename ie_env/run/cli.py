"""``ie-explore``: the command line of the project.

Subcommands: ``fetch-data`` (the real photos from their public sources, when no shards are found), ``vocab``,
``embed-vocab``, ``build-world``, ``search``, ``inspect``, ``verify``, ``benchmark`` (agents ranked over a task
suite, :mod:`ie_env.run.benchmark`), ``export`` (a
snapshot as webdataset or parquet shards, optionally its best images by the recording run's reward), ``report`` (a
run or comparison as a static web page), ``refetch`` (retry a snapshot's failed downloads), ``target``, ``demo``
(the main job), ``run`` (the loop on an offline world), ``live`` (the loop on a live engine), ``serve`` (snapshot
server). Every JSON-printing command prints one JSON document as the last line of its output. Errors are one line
on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from agents import check_agent_name, make_agent_for_env
from ie_env.atomic import atomic_write_json
from ie_env.data.fetch import FetchConfig, fetch_data, summary_line
from ie_env.data.ground_truth import mapping_table
from ie_env.data.targets import load_target
from ie_env.data.text_embedding import concept_embeddings, query_embeddings
from ie_env.data.vocabulary import load_vocabulary
from ie_env.data.vocabulary_filter import FILTERS, filter_summary, filtered_concepts
from ie_env.envs.env import EnvConfig, InternetExplorerEnv
from ie_env.envs.live_env import InternetExplorerLiveEnv
from ie_env.learning.distributed import DEVICES
from ie_env.run.benchmark import BenchmarkConfig, print_leaderboard, run_benchmark, suite_tasks
from ie_env.run.compare import CompareConfig, compare_agents, demo_table, ordering_sentence, print_summary
from ie_env.run.options import GIVEN, StoreGiven, add_config_arguments, config_from_args, given, parse_options
from ie_env.run.preset_names import preset_names, preset_options
from ie_env.run.runner import RESULT, run_episode
from ie_env.run.webpage import ReportConfig, write_report
from ie_env.suites import registered_id
from ie_env.web.download import format_status
from ie_env.web.search import ENGINES, make_engine
from offline_cache.export import FORMATS, ExportConfig, export_snapshot
from offline_cache.refetch import RefetchConfig, refetch
from offline_cache.server import serve
from offline_cache.snapshot import Snapshot
from offline_cache.tinyweb import VERSIONS, TinywebConfig, build_tinyweb, open_world
from offline_cache.world import world_dir


def cmd_fetch_data(args) -> dict:
    out = fetch_data(config_from_args(args, FetchConfig))
    print(summary_line(out), file=sys.stderr)
    return out


def cmd_vocab(args) -> dict:
    v = load_vocabulary()
    out = {"concepts": len(v), "synsets": v.n_synsets, "distinct_strings": len({l.lower() for l in v.lemmas}),
           "fingerprint": v.fingerprint} | filter_summary(v, args.vocabulary_filter)
    if args.find:  # what the filter removes is not shown
        removed = filtered_concepts(v, args.vocabulary_filter)
        out["matches"] = [{**v[i].__dict__, "text": v[i].text} for i in v.find(args.find) if not removed[i]]
    return out


def cmd_embed_vocab(args) -> dict:
    v = load_vocabulary()
    start = time.perf_counter()
    emb = concept_embeddings(v)
    lemmas = query_embeddings(v)  # the query texts: engines look them up instead of running MiniLM per query
    return {"concepts": len(v), "lemmas": len(lemmas), "dim": int(emb.shape[1]),
            "seconds_this_call": round(time.perf_counter() - start, 2)}


def cmd_build_world(args) -> dict:
    cfg = TinywebConfig(noise=args.noise, seed=args.seed, source=args.source or "",
                        version=VERSIONS.get(args.world, 2))
    if args.world not in VERSIONS and not args.source:
        raise ValueError(f"unknown world {args.world!r}: the builder makes {' or '.join(VERSIONS)} (or give --source)")
    path = build_tinyweb(cfg, name=args.world, force=args.force)
    snap = open_world(str(path)).snapshot
    if args.prepare:  # what every episode on this world reads, in the order it needs it (cached)
        from ie_env.data.text_embedding import lemma_table_name, registered_table
        from offline_cache.caption_engine import CaptionIndexEngine

        start = time.perf_counter()
        vocab = load_vocabulary()
        query_embeddings(vocab)  # the query tables: every lemma embedded, then answered once
        name = lemma_table_name(vocab)
        CaptionIndexEngine(open_world(str(path))).use_answer_table(name, *registered_table(name))
        concept_embeddings(vocab)  # the model-based agents' concept texts
        print(f"world ready for episodes ({time.perf_counter() - start:.0f} s; frozen mode's image features are "
              "built on its first use)", file=sys.stderr)
    if args.views:  # every image's trunk views for the head learner (presets head and paper_cpu)
        from ie_env.learning.views import build_world_views

        print(f"trunk views of every image: {build_world_views(open_world(str(path)))}", file=sys.stderr)
    return snap.inspect() | {"stats": snap.get_meta("stats")}


def cmd_search(args) -> list:
    if not args.query.strip():
        raise ValueError("empty query: give a concept name such as 'tabby'")
    engine = make_engine("tinyweb", world=args.world, n=args.n)
    return [r.to_json() for r in engine.search(args.query)]


def cmd_inspect(args) -> dict:
    snap = Snapshot(world_dir(args.snapshot), readonly=True)
    return snap.inspect() | {"meta": snap.meta()}


def cmd_verify(args) -> dict:
    report = Snapshot(world_dir(args.snapshot), readonly=True).verify()
    if not report.ok:
        print(f"snapshot damaged: {len(report.bad_blobs)} bad blobs, {len(report.incomplete_queries)} incomplete "
              f"queries, {len(report.missing_blobs)} missing blobs", file=sys.stderr)
    return {"ok": report.ok, **report.__dict__}


def cmd_export(args) -> dict:
    cfg = ExportConfig(format=args.format, out=args.out, shard_size=args.shard_size, top=args.top,
                       min_reward=args.min_reward, relevant_only=args.relevant_only)
    return export_snapshot(world_dir(args.snapshot), cfg)


def cmd_refetch(args) -> dict:
    cfg = RefetchConfig(statuses=args.status, downloader=parse_options(args.downloader_option))
    out = refetch(world_dir(args.snapshot), cfg, progress=True)
    print(f"retried {out['retried']} URLs: {out['before']} -> {out['after']}", file=sys.stderr)
    print(format_status(out["download_status"], f"{out['snapshot']} download status"), file=sys.stderr)
    return out


def cmd_target(args) -> dict:
    t = load_target(args.name, args.image_size)
    out = t.summary() | {"class_names": t.class_names, "class_wnids": t.class_wnids}
    if args.world:
        out["relevant_web_classes"] = mapping_table(open_world(args.world).wnids.tolist(), t.class_names,
                                                    t.class_wnids, load_vocabulary())
    return out


DEMO_SECTION = "What the main job prints"
"""The README section the demo's closing caveat sends readers to (``tests/test_readme.py`` checks that it exists)."""


def demo_agents(agents: str) -> tuple[str, str | None]:
    """The demo's arms in the order given, with ``random`` added as the baseline when it is missing (never twice),
    and the agent its sentences put against random and the target alone: the first that is not random (``None``
    when random is the only one)."""
    names = [a.strip() for a in agents.split(",") if a.strip()]
    if "random" not in names:
        names.append("random")
    return ",".join(names), next((a for a in names if a != "random"), None)


def cmd_demo(args) -> dict | None:
    """The main job: the paper's GP agent versus random exploration versus the target alone, full mode with the
    ``paper_cpu`` preset (:mod:`ie_env.run.presets`: the paper's proportions scaled to the world), 3 seeds; ends with the comparison's report, then a short table,
    the paired differences and one sentence per metric on which ordering held and how sure it is (the summary goes
    to stdout only with ``--json``). Options given on the command line win over the preset's."""
    agents, agent = demo_agents(args.agents)
    cfg = CompareConfig(mode="full", agents=agents, seeds=args.seeds, first_seed=args.seed,
                        budget=CompareConfig.budget if args.budget is None else args.budget, world=args.world,
                        target=args.target, out=args.out, target_only=True, preset=args.preset, resume=args.resume,
                        given=("budget",) if "budget" in given(args) else ())
    summary = compare_agents(cfg)
    print_summary(summary, cfg.out)
    demo_table(summary)
    for metric in ("relevant_images", "knn_accuracy", "linear_probe"):
        sentence = ordering_sentence(summary, metric, agent) if agent else ""
        if sentence:
            print(sentence)
    if cfg.preset and preset_options(cfg.preset, mode="full")["learner"].get("kind") == "head":
        print("(the trunk is ImageNet-pretrained with labels, among them the web's classes: see README, "
              f"'{DEMO_SECTION}')")
    page = write_report(cfg.out, Path(cfg.out) / "report")
    print(page)  # the last line: the page to open (with --json, the JSON document follows and names it too)
    return summary | {"report": str(page)} if args.json else None


def cmd_benchmark(args) -> dict | None:
    """Agents ranked over a task suite (:mod:`ie_env.run.benchmark`); ``--list`` shows the suite's tasks."""
    agent_options: dict[str, dict] = {}
    for spec in args.agent_option:  # AGENT may be module:Class: the last colon before '=' ends it
        head, eq, value = spec.partition("=")
        agent, sep, key = head.rpartition(":")
        if not sep or not eq or not agent:
            raise ValueError(f"--agent-option {spec!r}: write AGENT:KEY=VALUE for one of the agents ({args.agents})")
        agent_options.setdefault(agent, {}).update(parse_options([f"{key}={value}"]))
    cfg = config_from_args(args, BenchmarkConfig, agent_options=agent_options)
    if args.list:
        suite, tasks = suite_tasks(cfg)
        out = {"suite": suite.name, "version": suite.version, "about": suite.about,
               "tasks": [t.settings() | {"gym_id": registered_id(t)} for t in tasks]}
        if not args.json:
            print(f"suite {suite.name} v{suite.version}: {suite.about}")
            for t in tasks:
                print(f"  {t.name:<16} {t.target:<42} {t.mode}, {t.budget} queries, {t.queries_per_iteration} an "
                      f"iteration x {t.results_per_query} results, world {t.world}  "
                      f"({registered_id(t) or 'no Gymnasium id'})")
            return None
        return out
    board = run_benchmark(cfg)
    print_leaderboard(board, cfg.out)
    print(board["report"])  # the last line: the page to open (with --json, the JSON document follows)
    return board if args.json else None


def cmd_report(args) -> dict:
    cfg = config_from_args(args, ReportConfig)
    page = write_report(args.folder, args.out or None, cfg)
    print(page)
    return {"report": str(page)} if args.json else None


RUN_CONFIG = "config.json"
LOOP_ARGS = ("engine", "engine_option", "world", "target", "mode", "agent", "agent_option", "budget",
             "queries_per_iteration", "results_per_query", "image_size", "frozen_encoder", "learner_option", "seed",
             "vocabulary_under", "env_option", "downloader_option", "record", "snapshot", "policy", "device", "preset",
             "vocabulary_filter", "contact")


def _run_folder(args) -> tuple[Path | None, bool]:
    """The run folder and whether to resume; on resume ``args`` takes the run's saved options."""
    if args.resume:
        run_dir = Path(args.resume)
        saved = run_dir / RUN_CONFIG
        if not saved.is_file():
            raise ValueError(f"{run_dir} has no {RUN_CONFIG}: it is not a run folder (start one with --out {run_dir})")
        config = json.loads(saved.read_text())
        if config.get("command") != args.command:
            raise ValueError(f"{run_dir} is a run of 'ie-explore {config.get('command')}': resume it with that command")
        for key in LOOP_ARGS:
            if key in config:
                setattr(args, key, config[key])
        # the options given on the first command line (older runs: those that differ from EnvConfig's defaults)
        setattr(args, GIVEN, frozenset(config["given"]) if "given" in config else frozenset(
            k for k in LOOP_ARGS if k in config and hasattr(EnvConfig, k) and config[k] != getattr(EnvConfig, k)))
        return run_dir, True
    if not args.out:
        return None, False
    run_dir = Path(args.out)
    if (run_dir / RUN_CONFIG).exists():
        raise ValueError(f"{run_dir} holds a run already: continue it with --resume {run_dir}, or choose another --out")
    return run_dir, False


def _loop(args, live: bool) -> dict:
    run_dir, resume = _run_folder(args)
    if resume and (run_dir / RESULT).exists():
        print(f"{run_dir} finished already; its result:", file=sys.stderr)
        return json.loads((run_dir / RESULT).read_text())["final"]
    for flag in ("budget", "queries_per_iteration", "results_per_query"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: give a positive integer")
    check_agent_name(args.agent)
    env_given = parse_options(args.env_option)
    options = dict(engine=args.engine, target=args.target, mode=args.mode, budget=args.budget,
                   queries_per_iteration=args.queries_per_iteration, results_per_query=args.results_per_query,
                   image_size=args.image_size, frozen_encoder=args.frozen_encoder,
                   engine_options=parse_options(args.engine_option), device=args.device,
                   vocabulary_filter=args.vocabulary_filter, **env_given)
    if args.vocabulary_under:
        options["vocabulary_under"] = tuple(args.vocabulary_under.split(","))
    if args.preset:  # the preset under every option given on the command line, even one equal to its default
        flags = {k: options[k] for k in given(args) if k in options}
        options |= preset_options(args.preset, **(flags | env_given), learner=parse_options(args.learner_option))
    elif args.learner_option:
        options["learner"] = {"stem_stride": 2} | parse_options(args.learner_option)
    if args.engine not in ENGINES and not (live and args.engine == "replay"):
        raise ValueError(f"unknown search engine {args.engine!r}: choose one of {', '.join(sorted(ENGINES))}"
                         + (" or replay" if live else ""))
    agent_options = parse_options(args.agent_option)
    if args.policy:
        if args.agent not in ("ppo", "dqn"):
            raise ValueError(f"--policy is for the learned agents ppo and dqn, not {args.agent!r}")
        agent_options["policy"] = args.policy
    if live:
        env = InternetExplorerLiveEnv(**options, record=args.record, snapshot=args.snapshot, contact=args.contact,
                                      downloader=parse_options(args.downloader_option))
    else:
        env = InternetExplorerEnv(**options, world=args.world)
    try:
        agent = make_agent_for_env(args.agent, env, **agent_options)
        if run_dir and not resume:  # written once the options proved valid
            atomic_write_json(run_dir / RUN_CONFIG, {"command": args.command, "given": sorted(given(args))} |
                              {k: getattr(args, k) for k in LOOP_ARGS if hasattr(args, k)})
        run = run_episode(env, agent, args.seed, progress=True, run_dir=run_dir, resume=resume)
        out = {"final": run["final"], "queries": run["queries"], "run_dir": str(run_dir or "")}
        if live:
            print(format_status(env.fetcher.status, f"{args.engine} download status"), file=sys.stderr)
            out |= {"status": dict(env.fetcher.status), "record": args.record}
        return out
    finally:
        env.close()


def cmd_run(args) -> dict:
    return _loop(args, live=False)


def cmd_live(args) -> dict:
    return _loop(args, live=True)


def cmd_serve(args) -> None:
    serve(world=args.world, host=args.host, port=args.port, encoder=args.encoder, image_size=args.image_size)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ie-explore", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, fn, help):
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(fn=fn)
        sp.add_argument("--json", action="store_true", help="print one JSON document on the last line")
        return sp

    sp = add("fetch-data", cmd_fetch_data, "download Tiny ImageNet 200 and CIFAR-10 from their public sources "
             "(~237 MB + ~163 MB; resumable, md5-checked) and convert them into the project's shards, unless the "
             "data folder holds them already")
    add_config_arguments(sp, FetchConfig)
    sp = add("vocab", cmd_vocab, "vocabulary statistics (WordNet noun lemmas) and how many concepts the vocabulary "
             "filter removes")
    sp.add_argument("--find", default="", help="show the concepts whose lemma is this text (not those the filter "
                    "removes)")
    sp.add_argument("--vocabulary-filter", choices=FILTERS, default="offensive",
                    help="offensive: WordNet's obscenity, ethnic-slur and disparagement marks plus badwords-py's word "
                         "list (what live runs and report pages use); none: the paper's whole vocabulary "
                         "(default: offensive)")
    add("embed-vocab", cmd_embed_vocab,
        "embed every concept text and lemma with MiniLM (cached; ~30 min the first time)")
    sp = add("build-world", cmd_build_world, "build the offline world (default tinyweb)")
    sp.add_argument("world", nargs="?", default="tinyweb", help="world name")
    sp.add_argument("--source", default="", help="a canonical tiny-imagenet-200 folder instead of the shards")
    sp.add_argument("--noise", type=float, default=0.10, help="share of images with a wrong or generic caption")
    sp.add_argument("--seed", type=int, default=0, help="seed of the caption draws")
    sp.add_argument("--force", action="store_true", help="rebuild even if the world exists")
    sp.add_argument("--prepare", action="store_true",
                    help="also build what every episode on it reads, once (cached): the query tables (the "
                         "lemmas embedded and answered) and the agents' concept-text embeddings")
    sp.add_argument("--views", action="store_true",
                    help="also compute the head learner's cached trunk views (4 augmented + plain, 64 px) of every "
                         "image ahead, instead of as episodes download them (worth it before many episodes)")
    sp = add("search", cmd_search, "search an offline world with a text query")
    sp.add_argument("query", help="text query, e.g. 'tabby'")
    sp.add_argument("--world", default="tinyweb", help="world name or folder")
    sp.add_argument("--n", type=int, default=EnvConfig.results_per_query, help="number of results")
    for name, fn, help in [("inspect", cmd_inspect, "statistics of a snapshot or world"),
                           ("verify", cmd_verify, "re-hash every image and check every record of a snapshot")]:
        sp = add(name, fn, help)
        sp.add_argument("snapshot", nargs="?", default="tinyweb", help="world name or snapshot folder")
    sp = add("export", cmd_export, "write a snapshot's distinct images as webdataset tar shards or parquet "
             "(img2dataset layout: KEY.jpg, KEY.json, KEY.txt)")
    sp.add_argument("snapshot", help="world name or snapshot folder")
    sp.add_argument("--format", choices=FORMATS, default="webdataset", help="webdataset (OUT/00000.tar, ...) or "
                    "parquet (OUT/00000.parquet, ...)")
    sp.add_argument("--out", required=True, help="output folder (must hold no shards yet)")
    sp.add_argument("--shard-size", type=int, default=ExportConfig.shard_size, help="samples per shard")
    sp.add_argument("--top", type=int, default=0, metavar="N", help="keep the N images with the highest reward the "
                    "recording run gave them (samples then in descending reward order)")
    sp.add_argument("--min-reward", type=float, default=None, metavar="R", help="keep the images whose reward is at "
                    "least R")
    sp.add_argument("--relevant-only", action="store_true", help="keep the images the ground truth calls relevant "
                    "(snapshots recorded with ground truth)")
    sp = add("benchmark", cmd_benchmark, "rank agents over a task suite: per task and seed the relevant images "
             "normalised between random (0) and the ceiling (1), which always run as the normalisers; IQM and mean "
             "with stratified bootstrap intervals, performance profiles, probabilities of improvement; a leaderboard "
             "page; resumable, and a second run reuses the first's episodes")
    add_config_arguments(sp, BenchmarkConfig, only=tuple(f for f in BenchmarkConfig.__dataclass_fields__
                                                         if f != "agent_options"), consts={"ray": "local"})
    sp.add_argument("--agent-option", action="append", default=[], metavar="AGENT:KEY=VALUE",
                    help="an option of one agent, repeatable (gp:lengthscale=0.4; ceiling:descriptor_concepts=10)")
    sp.add_argument("--list", action="store_true", help="show the suite's tasks (with their Gymnasium ids) and exit")
    sp = add("report", cmd_report, "write a run or comparison folder as a static web page (OUT/index.html: tables, "
             "plots, and per agent and iteration the best queries and a gallery of the best images by reward)")
    sp.add_argument("folder", help="a run folder (--out of ie-explore run/live) or a comparison folder (--out of "
                    "experiments/compare_agents.py or ie-explore demo)")
    sp.add_argument("--out", default="", help="output folder (default: FOLDER/report); the page is OUT/index.html")
    add_config_arguments(sp, ReportConfig, choices={"vocabulary_filter": list(FILTERS)})
    sp = add("refetch", cmd_refetch, "retry the downloads a snapshot recorded as failed; updates its images and "
             "status histogram")
    sp.add_argument("snapshot", help="snapshot folder of a recorded run")
    sp.add_argument("--status", default=RefetchConfig.statuses, help="comma-separated recorded statuses to retry "
                    f"(default: {RefetchConfig.statuses})")
    sp.add_argument("--downloader-option", action="append", default=[], metavar="KEY=VALUE",
                    help="downloader option, repeatable (threads=16; read_timeout=5; image_size=64; ...)")
    sp = add("target", cmd_target, "load a target dataset and show its splits")
    sp.add_argument("name", help="cifar10, tiny-imagenet:<synset> or folder:<path>")
    sp.add_argument("--image-size", type=int, default=32, help="image side in pixels")
    sp.add_argument("--world", default="", help="also list the relevant classes of this world")
    sp = add("demo", cmd_demo, "the main job: explore the default world and report what was found")
    sp.add_argument("--budget", type=int, default=None, action=StoreGiven,
                    help="number of queries (default: the preset's; a budget given here wins over it)")
    sp.add_argument("--seed", type=int, default=0, help="random seed")
    sp.add_argument("--world", default="tinyweb", help="world name")
    sp.add_argument("--target", default="tiny-imagenet:carnivore.n.01",
                    help="target dataset (default: the 13 Tiny ImageNet val classes under carnivore.n.01)")
    sp.add_argument("--preset", default="paper_cpu", help=f"named settings from either table (ie_env.run.preset_names): "
                    f"{preset_names()}; an option given here wins over it")
    sp.add_argument("--agents", default="gp,random", help="comma-separated agents (the first other than random is "
                    "compared to random and the target alone; random is added when missing; add ceiling for the "
                    "greedy ground-truth ceiling)")
    sp.add_argument("--seeds", type=int, default=3, help="seeds (paired over arms)")
    sp.add_argument("--resume", action="store_true", help="keep the episodes --out holds already and run the rest")
    sp.add_argument("--out", default="runs/demo", help="folder of the summary, runs and plots")

    def loop_args(sp, **defaults) -> None:
        add_config_arguments(sp, EnvConfig, only=("engine", "target", "mode", "budget", "queries_per_iteration",
                                                  "results_per_query", "image_size", "frozen_encoder", "device",
                                                  "vocabulary_filter"),
                             defaults=defaults, choices={"mode": ["frozen", "full"], "device": list(DEVICES),
                                                         "vocabulary_filter": list(FILTERS)})
        sp.add_argument("--preset", default="", help=f"named settings from either table (ie_env.run.preset_names): "
                        f"{preset_names()}; an option given here wins over it")
        sp.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                        help="engine option, repeatable (license=cc0,by; base_url=http://host:port; ...)")
        sp.add_argument("--agent", default="gp", help="query agent (random, gp, gp_label_set, gp_ucb, gp_thompson, "
                                                      "relevant_concepts, ceiling, ppo, dqn)")
        sp.add_argument("--agent-option", action="append", default=[], metavar="KEY=VALUE",
                        help="agent option, repeatable (refit_every=16; descriptor_source=visual; ...)")
        sp.add_argument("--policy", default="", metavar="PATH", help="with --agent ppo or dqn: act with this saved "
                        "policy (experiments/train_policy.py writes OUT/model.zip) instead of training one")
        sp.add_argument("--learner-option", action="append", default=[], metavar="KEY=VALUE",
                        help="full mode: learner option, repeatable (steps_per_iteration=4; width=0.25; ...)")
        sp.add_argument("--vocabulary-under", default="", metavar="SYNSETS",
                        help="keep only the concepts under these comma-separated synsets (e.g. animal.n.01)")
        sp.add_argument("--env-option", action="append", default=[], metavar="KEY=VALUE",
                        help="any other EnvConfig field, repeatable (reward_targets=1000; eval_images=500; ...)")
        sp.add_argument("--seed", type=int, default=0, help="random seed")
        sp.add_argument("--out", default="", help="run folder: checkpoint at every iteration end, result at the end")
        sp.add_argument("--resume", default="", metavar="RUN_DIR", help="continue the killed run in RUN_DIR "
                        "(its saved options are used)")

    sp = add("run", cmd_run, "run the loop on an offline world (deterministic; resumable with --out/--resume)")
    loop_args(sp, engine="tinyweb", budget=128, queries_per_iteration=32, vocabulary_filter="none")
    sp.add_argument("--world", default="tinyweb", help="offline world name or folder")
    sp = add("live", cmd_live, "run the loop against a live image-search service (or replay a recorded run)")
    loop_args(sp, engine="openverse", budget=64, queries_per_iteration=16, results_per_query=20,
              vocabulary_filter="offensive")
    sp.add_argument("--downloader-option", action="append", default=[], metavar="KEY=VALUE",
                    help="downloader option, repeatable (threads=16; read_timeout=5; ...)")
    sp.add_argument("--record", default="", help="snapshot folder to record every answer and image into")
    sp.add_argument("--snapshot", default="", help="with --engine replay: the recorded snapshot to replay")
    sp.add_argument("--contact", default="", metavar="EMAIL_OR_URL",
                    help="how to reach you, sent in the User-Agent of every request as Wikimedia's User-Agent policy "
                         "asks (default: the environment variable IE_CONTACT)")
    sp = sub.add_parser("serve", help="serve a world over HTTP (clip-retrieval /knn-service + image bytes)")
    sp.set_defaults(fn=cmd_serve, json=False)
    sp.add_argument("--world", default="tinyweb", help="world name or snapshot folder")
    sp.add_argument("--host", default="127.0.0.1", help="address to bind")
    sp.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    sp.add_argument("--encoder", default="", help="also answer image queries (image, image_url, image "
                    "embeddings) with this frozen encoder's embeddings of the world: resnet18, efficientnet_lite0")
    sp.add_argument("--image-size", type=int, default=64, help="image side the --encoder sees")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = args.fn(args)
    except KeyboardInterrupt:
        return 130
    except (RuntimeError, ValueError, KeyError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"ie-explore {args.command}: error: {msg}", file=sys.stderr)
        return 2
    if out is not None:
        print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
