"""The training tutorial (second seed) on rgrad: a two-layer network with a sigmoid, BCE loss
and SGD, trained with zero_grad / backward / step on XOR-style data, then its accuracy.

    python examples/seed_training.py
"""

import rgrad as torch
import rgrad.nn as nn
import rgrad.optim as optim


# Define a simple neural network
class SimpleNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        x = self.sigmoid(self.fc1(x))
        x = self.sigmoid(self.fc2(x))
        return x


torch.manual_seed(0)

# Prepare training data
X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])

# Initialize the model, loss function, and optimizer
model = SimpleNN(input_size=2, hidden_size=4, output_size=1)
criterion = nn.BCELoss()
optimizer = optim.SGD(model.parameters(), lr=1.0)

# Training loop
epochs = 2000
for epoch in range(epochs):
    # Forward pass
    outputs = model(X)
    loss = criterion(outputs, y)

    # Backward pass and optimization
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

    if (epoch + 1) % 500 == 0:
        print(f"Epoch [{epoch + 1}/{epochs}], Loss: {loss.item():.4f}")

# Make predictions on the same data
with torch.no_grad():
    predicted = (model(X) > 0.5).float()
    accuracy = (predicted == y).sum().item() / y.size(0)
print(f"Predicted: {predicted.squeeze().tolist()}")
print(f"Accuracy: {accuracy * 100:.2f}%")
