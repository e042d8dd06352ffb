"""The setup code of compare.py's two torch.distributions rows, kept here so compare.py stays
short: a REINFORCE update over one CartPole-sized episode and a step of the digits VAE
(examples/vae_digits.py). Plain strings, run with `torch` bound to the library under test.
"""

# pytorch/examples' REINFORCE policy (4-128-2, Linear-ReLU-Linear-softmax) over one 200-step
# episode of random observations (no environment: the bench times the library, not
# gymnasium): per step a forward, a Categorical, a sample and its log_prob; then the discounted
# returns (normalised), the policy loss, backward and an Adam step, as finish_episode does.
REINFORCE_EPISODE = "\n".join(
    [
        "import numpy as np",
        "F = torch.nn.functional",
        "Categorical = torch.distributions.Categorical",
        "class Policy(torch.nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        "        self.affine1 = torch.nn.Linear(4, 128)",
        "        self.affine2 = torch.nn.Linear(128, 2)",
        "    def forward(self, x):",
        "        return F.softmax(self.affine2(F.relu(self.affine1(x))), dim=1)",
        "torch.manual_seed(0)",
        "policy = Policy()",
        "opt = torch.optim.Adam(policy.parameters(), lr=1e-2)",
        "states = list(np.random.default_rng(0).standard_normal((200, 4)))",
        "eps = float(np.finfo(np.float32).eps)",
        "def episode(gamma=0.99):",
        "    log_probs, rewards = [], []",
        "    for s in states:",
        "        probs = policy(torch.from_numpy(s).float().unsqueeze(0))",
        "        m = Categorical(probs)",
        "        action = m.sample()",
        "        log_probs.append(m.log_prob(action))",
        "        rewards.append(1.0)",
        "    R, returns = 0.0, []",
        "    for r in rewards[::-1]:",
        "        R = r + gamma * R",
        "        returns.insert(0, R)",
        "    returns = torch.tensor(returns)",
        "    returns = (returns - returns.mean()) / (returns.std() + eps)",
        "    loss = torch.cat([-lp * R for lp, R in zip(log_probs, returns)]).sum()",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
        "    return loss",
    ]
)

# examples/vae_digits.py's model and loss: 64-256-(8, 8) encoder, Normal posterior, rsample,
# 8-256-64 sigmoid decoder, BCE + kl_divergence to N(0, 1); Adam; batch 64 of 8x8 images.
VAE_STEP = "\n".join(
    [
        "F = torch.nn.functional",
        "Normal = torch.distributions.Normal",
        "kl_divergence = torch.distributions.kl_divergence",
        "class VAE(torch.nn.Module):",
        "    def __init__(self, pixels=64, hidden=256, latent=8):",
        "        super().__init__()",
        "        self.encoder = torch.nn.Sequential(torch.nn.Linear(pixels, hidden),",
        "            torch.nn.ReLU())",
        "        self.mu = torch.nn.Linear(hidden, latent)",
        "        self.logvar = torch.nn.Linear(hidden, latent)",
        "        self.decoder = torch.nn.Sequential(torch.nn.Linear(latent, hidden),",
        "            torch.nn.ReLU(), torch.nn.Linear(hidden, pixels), torch.nn.Sigmoid())",
        "    def forward(self, x):",
        "        h = self.encoder(x)",
        "        q = Normal(self.mu(h), torch.exp(0.5 * self.logvar(h)))",
        "        return self.decoder(q.rsample()), q",
        "torch.manual_seed(0)",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters(), lr=1e-3)",
        "x = torch.rand(64, 64)",
        "def step():",
        "    recon, q = model(x)",
        "    prior = Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))",
        "    bce = F.binary_cross_entropy(recon, x, reduction='sum')",
        "    loss = (bce + kl_divergence(q, prior).sum()) / x.size(0)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
        "    return loss",
    ]
)
