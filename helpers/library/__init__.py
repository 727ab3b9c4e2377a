"""The library the course teaches: what the exercises are compared with and what later lessons reuse.

    attention             softmax, causal and padding masks, scaled dot-product attention, blockwise attention
    multi_head_attention  split and combine heads, multi-head attention from single heads
    layers                MultiHeadAttention, LayerNorm, TransformerBlock (nn.Module)
    positions             sinusoidal and learned positional encodings
    optim                 the course's Adam (the same bits on every CPU)
    checks                the argument checks every function here starts with (clear errors that name shapes)

The library imports nothing from helpers.machinery or helpers.lessons (tests/test_architecture.py checks it).
"""
