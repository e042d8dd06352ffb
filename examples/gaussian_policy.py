"""An actor-critic with a Gaussian policy on gymnasium's Pendulum-v1 (a continuous torque in
[-2, 2]), written against torch.distributions: the actor gives the mean of a ``Normal`` (its
standard deviation is a learned parameter), squashed into the torque range by a ``TanhTransform``
and an ``AffineTransform`` in a ``TransformedDistribution`` (``cache_size=1``, so the
log-probability of a sampled action reuses the sample instead of inverting tanh). Several
environments run side by side (gymnasium's SyncVectorEnv); every --n-steps steps the critic's
values give generalised advantage estimates (GAE), the policy loss weights each step's
log-probability by its advantage and the critic learns the returns (advantage actor-critic,
Adam). It prints the average return of each batch of episodes as it improves (about -1200 for
a random policy, above -400 once it swings the pendulum up and holds it) and writes the curve to
--out (./outputs by default, which git ignores).

    pip install ".[examples,rl]"      # tqdm, matplotlib, gymnasium
    python examples/gaussian_policy.py [--iterations 100] [--envs 8] [--seed 0] [--out DIR]
"""

import argparse
import os
import time

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad.distributions import Normal, TransformedDistribution
from rgrad.distributions.transforms import AffineTransform, TanhTransform


class Actor(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden=64, max_action=2.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )
        self.mu = nn.Linear(hidden, act_dim)
        self.log_std = nn.Parameter(torch.zeros(act_dim))
        self.max_action = max_action

    def forward(self, obs):
        """The policy at ``obs``: a Normal squashed by tanh into [-max_action, max_action]."""
        base = Normal(self.mu(self.net(obs)), self.log_std.exp().expand(obs.shape[0], -1))
        squash = [
            TanhTransform(cache_size=1),
            AffineTransform(0.0, self.max_action, cache_size=1),
        ]
        return TransformedDistribution(base, squash)


def critic(obs_dim, hidden=64):
    return nn.Sequential(
        nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
        nn.Linear(hidden, 1),
    )  # fmt: skip


def gae(rewards, values, last_value, gamma, lam):
    """Generalised advantage estimates and returns for a (steps, envs) rollout that goes on
    past its end (the last state's value bootstraps it)."""
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    for t in reversed(range(len(rewards))):
        next_value = values[t + 1] if t + 1 < len(values) else last_value
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
    return advantages, advantages + values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100, help="batches of episodes")
    parser.add_argument("--envs", type=int, default=8, help="environments side by side")
    parser.add_argument("--n-steps", type=int, default=5, help="steps per update")
    parser.add_argument("--gamma", type=float, default=0.9)
    parser.add_argument("--lam", type=float, default=0.95, help="GAE lambda")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="outputs", help="default: ./outputs")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("Pendulum-v1")] * args.envs)
    obs_dim = envs.single_observation_space.shape[0]
    act_dim = envs.single_action_space.shape[0]
    max_action = float(envs.single_action_space.high[0])
    actor, value_fn = Actor(obs_dim, act_dim, max_action=max_action), critic(obs_dim)
    params = list(actor.parameters()) + list(value_fn.parameters())
    optimizer = torch.optim.Adam(params, lr=args.lr)

    averages = []
    start = time.perf_counter()
    bar = tqdm(range(args.iterations), desc="episode batches")
    for it in bar:
        obs, _ = envs.reset(seed=args.seed + it * args.envs)
        obs = torch.from_numpy(obs).float()
        episode_return = np.zeros(args.envs)
        done = False
        while not done:
            log_probs, values, rewards = [], [], []
            for _ in range(args.n_steps):
                dist = actor(obs)
                action = dist.sample()  # no gradient; log_prob below has one
                log_probs.append(dist.log_prob(action).sum(-1))
                values.append(value_fn(obs).squeeze(-1))
                next_obs, reward, terminated, truncated, _ = envs.step(action.numpy())
                episode_return += reward
                rewards.append((reward + 8.0) / 8.0)  # rewards lie in [-16.3, 0]
                obs = torch.from_numpy(next_obs).float()
                done = bool(np.all(terminated | truncated))
                if done:
                    break
            with torch.no_grad():
                last_value = value_fn(obs).squeeze(-1)  # Pendulum only truncates
            rewards = torch.tensor(np.stack(rewards), dtype=torch.float32)
            values = torch.stack(values)
            advantages, returns = gae(rewards, values.detach(), last_value, args.gamma, args.lam)
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            policy_loss = -(torch.stack(log_probs) * advantages).mean()
            value_loss = F.mse_loss(values, returns)
            optimizer.zero_grad()
            (policy_loss + 0.5 * value_loss).backward()
            nn.utils.clip_grad_norm_(params, 0.5)
            optimizer.step()
        averages.append(float(episode_return.mean()))
        bar.set_postfix(avg_return=f"{averages[-1]:.0f}", std=f"{actor.log_std.exp().item():.2f}")
        if (it + 1) % 10 == 0 or it == 0:
            recent = np.mean(averages[-10:])
            tqdm.write(f"iteration {it + 1:4d}  average return {recent:8.1f}")
    envs.close()
    minutes = (time.perf_counter() - start) / 60
    first, last = np.mean(averages[:10]), np.mean(averages[-10:])
    print(
        f"{args.iterations * args.envs} episodes in {minutes:.1f} min; average return "
        f"{first:.1f} over the first 10 batches, {last:.1f} over the last 10"
    )

    os.makedirs(args.out, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no return curve")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(averages) + 1), averages)
    ax.set(
        xlabel="batch of episodes", ylabel="average return", title="Gaussian policy, Pendulum-v1"
    )
    fig.tight_layout()
    path = os.path.join(args.out, "gaussian_policy.png")
    fig.savefig(path, dpi=100)
    print(f"return curve written to {path}")


if __name__ == "__main__":
    main()
