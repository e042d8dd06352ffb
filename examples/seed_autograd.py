"""The autograd tutorial (first seed) as written, run on rgrad: Example 1, Example 2,
Exercise 1 and Exercise 2.

    python examples/seed_autograd.py
"""

import rgrad as torch
import rgrad.nn as nn

# Example 1: Basic Tensor Operations with Autograd
# Create tensors
x = torch.tensor(2.0, requires_grad=True)
y = torch.tensor(3.0, requires_grad=True)
# Perform operations
z = x * y + y**2
# Compute gradients
z.backward()
# Print gradients
print(f"Gradient of x: {x.grad}")
print(f"Gradient of y: {y.grad}")

# Example 2: Using Autograd with a Simple Neural Network
# Define a simple linear model
model = nn.Linear(1, 1)
# Input tensor
input_tensor = torch.tensor([[1.0]], requires_grad=True)
# Forward pass
output = model(input_tensor)
# Define a simple loss function
loss = (output - 2.0) ** 2
# Backward pass
loss.backward()
# Print gradients
print(f"Gradient of input_tensor: {input_tensor.grad}")
print(f"Gradient of model weight: {model.weight.grad}")
print(f"Gradient of model bias: {model.bias.grad}")

# Exercise 1: Compute Gradients for a Polynomial Function
# Create tensor
x = torch.tensor(3.0, requires_grad=True)
# Define polynomial function
y = 3 * x**3 + 2 * x**2 + x
# Compute gradient
y.backward()
# Print gradient
print(f"Gradient of x: {x.grad}")

# Exercise 2: Gradient Descent Step
# Create tensor
w = torch.tensor(1.0, requires_grad=True)
# Define loss function
loss = (w - 5) ** 2
# Compute gradient
loss.backward()
# Perform gradient descent step
learning_rate = 0.1
with torch.no_grad():
    w -= learning_rate * w.grad
# Print updated value of w
print(f"Updated value of w: {w}")
