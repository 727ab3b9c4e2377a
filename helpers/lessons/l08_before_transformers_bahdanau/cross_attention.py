"""Lesson 08's reversal task with transformer cross-attention instead of Bahdanau's additive RNN attention.

The decoder's queries come from the decoder's own states, the keys and values from the encoder's: Bahdanau's
idea, scored with a scaled dot product and without any recurrence. Built from helpers.library's pieces
(MultiHeadAttention, TransformerBlock, LayerNorm, sinusoidal positions), laid out as torch.nn.Transformer is,
so the tests copy the weights into nn.Transformer and compare.

    cross_attention(decoder_states, encoder_states, layer)
                           one cross-attention layer: queries from the decoder (B, m, d_model), keys and
                           values from the encoder (B, n, d_model); returns (output (B, m, d_model),
                           weights (B, n_heads, m, n))
    DecoderBlock           causal self-attention, cross-attention, feed-forward, each in Add & Norm
                           (Post-LN, as nn.TransformerDecoderLayer); from_torch copies one
    CrossAttentionSeq2Seq  source and target embeddings + sinusoidal positions, encoder blocks + LayerNorm,
                           decoder blocks + LayerNorm, a linear layer to the 26 letters; forward (teacher
                           forcing) and greedy_decode, both returning the last block's cross-attention weights
    SIZES                  the lesson's sizes: d_model 32, one head, d_ff 64, one block on each side
    SOURCE_POSITIONS       "from_end" (the lesson's) or "from_start": how the encoder numbers the source

Names: B batch, n source positions, m target steps, d_model model width, n_heads heads.
"""

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from helpers.lessons.l08_before_transformers_bahdanau.reversal_task import BOS, SYMBOLS
from helpers.library.attention import causal_mask
from helpers.library.checks import require_float_tensor, require_int, require_tensor
from helpers.library.layers import LayerNorm, MultiHeadAttention, TransformerBlock
from helpers.library.positions import sinusoidal_encoding

__all__ = ["SIZES", "SOURCE_POSITIONS", "cross_attention", "DecoderBlock", "CrossAttentionSeq2Seq"]

SIZES = {"d_model": 32, "n_heads": 1, "d_ff": 64, "n_encoder_blocks": 1, "n_decoder_blocks": 1}
N_POSITIONS = 32  # the longest source or target the positional encodings cover (the task has at most 26 letters)
# How the encoder numbers the source positions: "from_end" gives the last letter position 0 (what the backward
# half of Bahdanau's bidirectional GRU knows: how far a letter is from the end), "from_start" the first letter.
SOURCE_POSITIONS = ("from_end", "from_start")


def cross_attention(decoder_states, encoder_states, layer):
    """Cross-attention: each decoder state asks, every encoder state answers.

    decoder_states: (B, m, d_model), the queries' inputs.   encoder_states: (B, n, d_model), the keys' and
    values' inputs (m and n may differ).   layer: a helpers.library.layers.MultiHeadAttention.
    Returns (output (B, m, d_model): one context vector per decoder state, weights (B, n_heads, m, n)).
    """
    if not isinstance(layer, MultiHeadAttention):
        raise TypeError(f"layer must be a helpers.library.layers.MultiHeadAttention, got {type(layer).__name__}")
    for name, states in (("decoder_states", decoder_states), ("encoder_states", encoder_states)):
        require_float_tensor(name, states)
        if states.ndim != 3:
            raise ValueError(f"{name} must have shape (B, n, d_model), got {tuple(states.shape)}")
    if decoder_states.shape[0] != encoder_states.shape[0]:
        raise ValueError(
            f"decoder_states (B, m, d_model) {tuple(decoder_states.shape)} and encoder_states (B, n, d_model) "
            f"{tuple(encoder_states.shape)} must have the same batch size B"
        )
    return layer(decoder_states, encoder_states, encoder_states)


class DecoderBlock(nn.Module):
    """A transformer decoder block: causal self-attention, cross-attention to the encoder, feed-forward.

    Each sublayer sits in Add & Norm, after the sum (Post-LN), as in nn.TransformerDecoderLayer's default:
    x = norm1(x + self_attn(x)); x = norm2(x + cross_attn(x, memory)); x = norm3(x + ff(x)).
    Attributes: self_attn, cross_attn (MultiHeadAttention), ff (Linear, ReLU, Linear), norm1, norm2, norm3.
    """

    def __init__(self, d_model, n_heads, d_ff, eps=1e-5):
        super().__init__()
        d_ff = require_int("d_ff", d_ff, minimum=1)
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))
        self.norm1 = LayerNorm(d_model, eps=eps)
        self.norm2 = LayerNorm(d_model, eps=eps)
        self.norm3 = LayerNorm(d_model, eps=eps)

    def forward(self, x, memory):
        """x: (B, m, d_model) the decoder's inputs; memory: (B, n, d_model) the encoder's output.

        Returns (x (B, m, d_model), cross-attention weights (B, n_heads, m, n)).
        """
        attended, _ = self.self_attn(x, mask=causal_mask(x.shape[1]))  # step i sees steps 0..i only
        x = self.norm1(x + attended)
        context, weights = cross_attention(x, memory, self.cross_attn)  # queries: decoder; keys, values: encoder
        x = self.norm2(x + context)
        return self.norm3(x + self.ff(x)), weights

    @classmethod
    def from_torch(cls, layer):
        """A DecoderBlock with the weights of a torch.nn.TransformerDecoderLayer (ReLU, Post-LN)."""
        if not isinstance(layer, nn.TransformerDecoderLayer):
            raise TypeError(f"expected torch.nn.TransformerDecoderLayer, got {type(layer).__name__}")
        if layer.norm_first or layer.activation is not F.relu:
            raise ValueError("only a TransformerDecoderLayer with norm_first=False and activation='relu' can be copied")
        d_model, d_ff = layer.linear1.in_features, layer.linear1.out_features
        block = cls(d_model, layer.self_attn.num_heads, d_ff, eps=layer.norm1.eps).to(layer.linear1.weight.dtype)
        block.self_attn = MultiHeadAttention.from_torch(layer.self_attn)
        block.cross_attn = MultiHeadAttention.from_torch(layer.multihead_attn)
        for name in ("norm1", "norm2", "norm3"):
            setattr(block, name, LayerNorm.from_torch(getattr(layer, name)))
        with torch.no_grad():
            for mine, theirs in ((block.ff[0], layer.linear1), (block.ff[2], layer.linear2)):
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
        return block


class CrossAttentionSeq2Seq(nn.Module):
    """An encoder-decoder transformer for reversal: the decoder reads the source through cross-attention.

    Encoder: embedding of the 26 letters + sinusoidal positions (numbered from the end of the source, or
    from its start: source_positions), n_encoder_blocks TransformerBlocks (Post-LN; with 0, embeddings and
    positions only), a final LayerNorm.
    Decoder: embedding of the 26 letters and BOS + sinusoidal positions from the start, n_decoder_blocks
    DecoderBlocks, a final LayerNorm, then a linear layer to the 26 letters. The encoder and decoder stacks
    are nn.Transformer's: from_torch_transformer copies one in (the tests compare the two).
    """

    def __init__(
        self, d_model=32, n_heads=1, d_ff=64, n_encoder_blocks=1, n_decoder_blocks=1, source_positions="from_end"
    ):
        super().__init__()
        self.d_model = require_int("d_model", d_model, minimum=2)
        if source_positions not in SOURCE_POSITIONS:
            raise ValueError(f"source_positions must be one of {SOURCE_POSITIONS}, got {source_positions!r}")
        self.source_positions = source_positions
        n_encoder_blocks = require_int("n_encoder_blocks", n_encoder_blocks, minimum=0)
        n_decoder_blocks = require_int("n_decoder_blocks", n_decoder_blocks, minimum=1)
        self.source_embedding = nn.Embedding(len(SYMBOLS), d_model)
        self.target_embedding = nn.Embedding(len(SYMBOLS) + 1, d_model)  # + BOS
        self.register_buffer("positions", sinusoidal_encoding(N_POSITIONS, d_model))
        self.encoder_blocks = nn.ModuleList(TransformerBlock(d_model, n_heads, d_ff) for _ in range(n_encoder_blocks))
        self.encoder_norm = LayerNorm(d_model)
        self.decoder_blocks = nn.ModuleList(DecoderBlock(d_model, n_heads, d_ff) for _ in range(n_decoder_blocks))
        self.decoder_norm = LayerNorm(d_model)
        self.output = nn.Linear(d_model, len(SYMBOLS))

    def _embed(self, embedding, ids, name, from_end=False):
        require_tensor(name, ids)
        if ids.ndim != 2 or ids.is_floating_point() or 0 in ids.shape:
            raise ValueError(f"{name} must be a (B, n) tensor of letter ids with B, n >= 1, got {tuple(ids.shape)}")
        if ids.shape[1] > N_POSITIONS:
            raise ValueError(f"{name} has {ids.shape[1]} positions; the model encodes at most {N_POSITIONS}")
        if ids.min() < 0 or ids.max() >= embedding.num_embeddings:
            raise ValueError(f"{name} must hold ids between 0 and {embedding.num_embeddings - 1}")
        positions = self.positions[: ids.shape[1]]  # (n, d_model)
        return embedding(ids) + (positions.flip(0) if from_end else positions)

    def encoder_stack(self, x):
        """The encoder's blocks and final LayerNorm: x (B, n, d_model) -> memory (B, n, d_model)."""
        for block in self.encoder_blocks:
            x = block(x)
        return self.encoder_norm(x)

    def decoder_stack(self, x, memory):
        """The decoder's blocks and final LayerNorm: x (B, m, d_model), memory (B, n, d_model) ->
        (states (B, m, d_model), the last block's cross-attention weights (B, n_heads, m, n))."""
        for block in self.decoder_blocks:
            x, weights = block(x, memory)
        return self.decoder_norm(x), weights

    def encode(self, source):
        """source: (B, n) letter ids -> memory (B, n, d_model), what every cross-attention reads."""
        from_end = self.source_positions == "from_end"
        return self.encoder_stack(self._embed(self.source_embedding, source, "source", from_end=from_end))

    def decode(self, memory, previous):
        """memory: (B, n, d_model); previous: (B, m) the decoder's inputs (BOS, then the letters written).

        Returns (logits (B, m, 26), weights (B, m, n): the last block's cross-attention, averaged over heads).
        """
        states, weights = self.decoder_stack(self._embed(self.target_embedding, previous, "previous"), memory)
        return self.output(states), weights.mean(dim=1)

    def forward(self, source, target):
        """Teacher forcing: source (B, n), target (B, m) -> (logits (B, m, 26), weights (B, m, n)).

        Step i reads BOS and target[:, :i]; the causal mask keeps it from seeing the letters after.
        """
        require_tensor("target", target)
        if target.ndim != 2 or target.shape[0] != source.shape[0]:
            shapes = f"target {tuple(target.shape)}, source {tuple(getattr(source, 'shape', ()))}"
            raise ValueError(f"target must be (B, m) with the source's batch size B: {shapes}")
        previous = torch.cat([torch.full_like(target[:, :1], BOS), target[:, :-1]], dim=1)  # (B, m)
        return self.decode(self.encode(source), previous)

    @torch.no_grad()
    def greedy_decode(self, source, m=None):
        """Write m letters (default n), each step feeding back the letter just written.

        source: (B, n) long. Returns (tokens (B, m) long, weights (B, m, n): where each step read).
        The decoder is run on the whole prefix at every step (no cache): m ≤ 26 steps of a tiny model.
        """
        memory = self.encode(source)
        m = source.shape[1] if m is None else require_int("m", m, minimum=1)
        previous = torch.full((source.shape[0], 1), BOS, dtype=torch.long)
        for _ in range(m):
            logits, weights = self.decode(memory, previous)
            previous = torch.cat([previous, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
        return previous[:, 1:], weights

    @classmethod
    def from_torch_transformer(cls, transformer, source_positions="from_end"):
        """A CrossAttentionSeq2Seq whose encoder and decoder stacks hold the weights of a torch.nn.Transformer.

        transformer: nn.Transformer with Post-LN ReLU layers (its defaults). The embeddings and the output
        layer, which nn.Transformer does not have, keep their random initial weights.
        """
        if not isinstance(transformer, nn.Transformer):
            raise TypeError(f"expected torch.nn.Transformer, got {type(transformer).__name__}")
        encoder_layers, decoder_layers = transformer.encoder.layers, transformer.decoder.layers
        first = encoder_layers[0]
        model = cls(
            d_model=first.linear1.in_features,
            n_heads=first.self_attn.num_heads,
            d_ff=first.linear1.out_features,
            n_encoder_blocks=len(encoder_layers),
            n_decoder_blocks=len(decoder_layers),
            source_positions=source_positions,
        ).to(first.linear1.weight.dtype)
        model.encoder_blocks = nn.ModuleList(TransformerBlock.from_torch(layer) for layer in encoder_layers)
        model.decoder_blocks = nn.ModuleList(DecoderBlock.from_torch(layer) for layer in decoder_layers)
        model.encoder_norm = LayerNorm.from_torch(transformer.encoder.norm)
        model.decoder_norm = LayerNorm.from_torch(transformer.decoder.norm)
        return model


__all__ += ["difference_from_nn_transformer"]


def difference_from_nn_transformer(seed=0, batch_size=3, n=7, m=5, **sizes):
    """Largest |difference| between nn.Transformer and CrossAttentionSeq2Seq's stacks holding its weights.

    A random nn.Transformer (dropout 0, batch_first, one head, SIZES unless `sizes` say otherwise), its weights
    copied into a CrossAttentionSeq2Seq; both run on the same random embedded source (B, n, d_model) and
    target (B, m, d_model), n != m, with a causal mask on the target. Returns a float (float64 arithmetic).
    """
    sizes = {**SIZES, **sizes}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(require_int("seed", seed, minimum=0))
        with warnings.catch_warnings():  # "enable_nested_tensor is True, but ... num_heads is odd": irrelevant here
            warnings.simplefilter("ignore", UserWarning)
            transformer = nn.Transformer(
                d_model=sizes["d_model"],
                nhead=sizes["n_heads"],
                num_encoder_layers=sizes["n_encoder_blocks"],
                num_decoder_layers=sizes["n_decoder_blocks"],
                dim_feedforward=sizes["d_ff"],
                dropout=0.0,
                batch_first=True,
            ).double()
        source = torch.randn(batch_size, n, sizes["d_model"], dtype=torch.float64)
        target = torch.randn(batch_size, m, sizes["d_model"], dtype=torch.float64)
    model = CrossAttentionSeq2Seq.from_torch_transformer(transformer.eval())
    with torch.no_grad():
        theirs = transformer(source, target, tgt_mask=nn.Transformer.generate_square_subsequent_mask(m).double())
        ours, _ = model.decoder_stack(target, model.encoder_stack(source))
    return float((ours - theirs).abs().max())
