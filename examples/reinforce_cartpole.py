"""REINFORCE on gymnasium's CartPole-v1, as pytorch/examples' reinforcement_learning/reinforce.py
writes it: a 4-128-2 policy (Linear, Dropout, ReLU, Linear, softmax), actions drawn from a
``Categorical``, the log-probabilities kept per step and, at the end of each episode, the
discounted returns (normalised) weighting them in the policy-gradient loss; Adam. It prints the
running reward every --log-interval episodes and stops once it passes the environment's reward
threshold (475) or after --episodes, then writes the reward curve to --out (./outputs by
default, which git ignores).

    pip install ".[examples,rl]"      # tqdm, matplotlib, gymnasium
    python examples/reinforce_cartpole.py [--seed 543] [--episodes 1000] [--out DIR]
"""

import argparse
import os
import time
from collections import deque
from itertools import count

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F
import rgrad.optim as optim
from rgrad.distributions import Categorical


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.affine1 = nn.Linear(4, 128)
        self.dropout = nn.Dropout(p=0.6)
        self.affine2 = nn.Linear(128, 2)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = self.dropout(x)
        x = F.relu(x)
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


def select_action(policy, state):
    state = torch.from_numpy(state).float().unsqueeze(0)
    probs = policy(state)
    m = Categorical(probs)
    action = m.sample()
    policy.saved_log_probs.append(m.log_prob(action))
    return action.item()


def finish_episode(policy, optimizer, gamma, eps):
    R = 0
    policy_loss = []
    returns = deque()
    for r in policy.rewards[::-1]:
        R = r + gamma * R
        returns.appendleft(R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for log_prob, R in zip(policy.saved_log_probs, returns):
        policy_loss.append(-log_prob * R)
    optimizer.zero_grad()
    policy_loss = torch.cat(policy_loss).sum()
    policy_loss.backward()
    optimizer.step()
    del policy.rewards[:]
    del policy.saved_log_probs[:]
    return policy_loss.item()


def plot_rewards(rewards, running, threshold, path, title):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no reward curve")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(rewards) + 1), rewards, alpha=0.4, label="episode reward")
    ax.plot(range(1, len(running) + 1), running, label="running reward")
    ax.axhline(threshold, color="gray", linestyle="--", label=f"threshold {threshold:g}")
    ax.set(xlabel="episode", ylabel="reward", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"reward curve written to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gamma", type=float, default=0.99, help="discount factor")
    parser.add_argument("--seed", type=int, default=543)
    parser.add_argument("--episodes", type=int, default=1000, help="stop after this many")
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--out", default="outputs", help="default: ./outputs")
    args = parser.parse_args()

    env = gym.make("CartPole-v1")
    env.reset(seed=args.seed)
    torch.manual_seed(args.seed)
    policy = Policy()
    optimizer = optim.Adam(policy.parameters(), lr=1e-2)
    eps = np.finfo(np.float32).eps.item()
    threshold = env.spec.reward_threshold

    running_reward = 10
    rewards, running = [], []
    start = time.perf_counter()
    bar = tqdm(total=args.episodes, desc="episodes")
    for i_episode in count(1):
        state, _ = env.reset()
        ep_reward = 0
        for t in range(1, 10000):  # noqa: B007 (t: the episode length, printed when solved)
            action = select_action(policy, state)
            state, reward, terminated, truncated, _ = env.step(action)
            policy.rewards.append(reward)
            ep_reward += reward
            if terminated or truncated:
                break
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        loss = finish_episode(policy, optimizer, args.gamma, eps)
        rewards.append(ep_reward)
        running.append(running_reward)
        bar.update()
        bar.set_postfix(running=f"{running_reward:.1f}", loss=f"{loss:.2f}")
        if i_episode % args.log_interval == 0:
            tqdm.write(
                f"Episode {i_episode}\tLast reward: {ep_reward:.2f}\t"
                f"Average reward: {running_reward:.2f}"
            )
        if running_reward > threshold:
            tqdm.write(
                f"Solved! Running reward is now {running_reward:.2f} and "
                f"the last episode runs to {t} time steps!"
            )
            break
        if i_episode >= args.episodes:
            break
    bar.close()
    minutes = (time.perf_counter() - start) / 60
    print(f"{i_episode} episodes in {minutes:.1f} min; running reward {running_reward:.2f}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "reinforce_cartpole.png")
    plot_rewards(rewards, running, threshold, path, "REINFORCE on CartPole-v1")


if __name__ == "__main__":
    main()
