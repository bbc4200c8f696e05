"""Train a learned query policy (PPO or DQN) on frozen-mode environments and save it.

    python experiments/train_policy.py --algo ppo --steps 200000 --targets tiny-imagenet:dog.n.01,tiny-imagenet:cat.n.01 --out runs/ppo
    ie-explore run --agent ppo --policy runs/ppo/model.zip --target tiny-imagenet:dog.n.01

The command line of :func:`agents.policy_training.train_policy` (options: the fields of
:class:`agents.policy_training.TrainConfig`): Monitor files, an evaluation on other seeds (best policy kept),
TensorBoard logs when tensorboard is installed, and the final policy in ``OUT/model.zip``. Prints where the files
are, or one JSON document with ``--json``.
"""
from __future__ import annotations

import argparse
import json

from agents.policy_training import TrainConfig, train_policy
from ie_env.run.options import add_config_arguments, config_from_args, parse_options


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_config_arguments(ap, TrainConfig, only=tuple(f for f in TrainConfig.__dataclass_fields__ if f != "env_options"),
                         choices={"algo": ["ppo", "dqn"]})
    ap.add_argument("--env-option", action="append", default=[], metavar="KEY=VALUE",
                    help="any other EnvConfig field, repeatable (reward_targets=1000; ...)")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON document")
    args = ap.parse_args(argv)
    try:
        cfg = config_from_args(args, TrainConfig, env_options=parse_options(args.env_option))
    except ValueError as exc:
        ap.error(str(exc))
    result = train_policy(cfg)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{cfg.algo} trained for {result['steps']} steps in {result['seconds']:.3g} s; last evaluation "
              f"(mean episode reward, {cfg.eval_episodes} episodes): {result['last_eval_mean_reward']:.3g}")
        print(f"policy: {result['model']} (best: {result['best_model']}); evaluations: {result['evaluations']}; "
              f"monitor: {result['monitor']}" + (f"; tensorboard: {result['tensorboard']}" if result["tensorboard"]
                                                 else ""))
    return result


if __name__ == "__main__":
    main()
