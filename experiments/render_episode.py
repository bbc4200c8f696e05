"""Run a few queries on an offline world and save each step's ``rgb_array`` frame as a PNG.

    python experiments/render_episode.py --out runs/frames                       # tinyweb, once built
    python experiments/render_episode.py --world PATH --target tiny-imagenet:dog.n.01 --out runs/frames

Each frame shows the query, the images it returned (framed in the colour of their reward, dimmed when seen
before) and the episode's running counts; the text line of each step (``ansi`` mode) is printed and written to
``OUT/steps.txt``. The default queries end with a repeat, which finds nothing new.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
from PIL import Image

import ie_env  # noqa: F401  (registers InternetExplorer-v0)
from ie_env.envs.render import render_ansi
from ie_env.run.options import parse_options
from offline_cache.world import world_dir

QUERIES = "golden retriever,tabby,sports car,lemon,golden retriever"


def main(argv: list[str] | None = None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for frame_000.png, ... and steps.txt")
    ap.add_argument("--world", default="tinyweb", help="world name or folder (default tinyweb, if built)")
    ap.add_argument("--target", default="cifar10", help="target dataset (cifar10, tiny-imagenet:<synset>, ...)")
    ap.add_argument("--queries", default=QUERIES, help="comma-separated query texts (WordNet noun lemmas)")
    ap.add_argument("--frozen-encoder", default="resnet18", help="frozen mode's encoder (resnet18 is quick)")
    ap.add_argument("--image-size", type=int, default=32, help="image side the encoder sees")
    ap.add_argument("--results-per-query", type=int, default=16, help="images per answer")
    ap.add_argument("--env-option", action="append", default=[], metavar="KEY=VALUE",
                    help="any other EnvConfig field, repeatable (reward_targets=300; ...)")
    args = ap.parse_args(argv)
    if not (world_dir(args.world) / "captions.npy").exists():
        ap.error(f"no world {args.world!r} ({world_dir(args.world)}): build it with `ie-explore build-world "
                 "tinyweb`, or give --world PATH of a built world")
    queries = [q.strip() for q in args.queries.split(",") if q.strip()]
    env = gym.make("InternetExplorer-v0", render_mode="rgb_array", world=args.world, target=args.target,
                   mode="frozen", frozen_encoder=args.frozen_encoder, image_size=args.image_size,
                   results_per_query=args.results_per_query, budget=len(queries) or 1,
                   **parse_options(args.env_option))
    base = env.unwrapped
    actions = []
    for q in queries:
        found = base.vocab.find(q)
        if not found:
            ap.error(f"query {q!r} is not a WordNet noun lemma of the vocabulary (try 'ie-explore vocab --find')")
        actions.append(found[0])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env.reset(seed=0)
    files, lines = [], []
    for t, action in enumerate(actions):
        env.step(action)
        frame = env.render()
        path = out / f"frame_{t:03d}.png"
        Image.fromarray(frame).save(path)
        lines.append(render_ansi(base.step_view(images=False)))  # the same step as a text line
        print(f"{path}  {frame.shape[1]}x{frame.shape[0]}  {lines[-1]}")
        files.append(path)
    (out / "steps.txt").write_text("\n".join(lines) + "\n")
    env.close()
    return files


if __name__ == "__main__":
    main(sys.argv[1:])
