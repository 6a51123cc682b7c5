"""CPU stand-in for flash_attn.flash_attn_func (FlashAttention 2 API) used by the HRM reference.

q, k, v: [batch, seq, heads, head_dim]; returns [batch, seq, heads, head_dim] (contiguous, like
flash_attn), non-causal by default, softmax scale 1/sqrt(head_dim). layers.py tries
flash_attn_interface first (ImportError here) and then this module; it accepts a tensor or a tuple.
"""
import torch
import torch.nn.functional as F


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, **kwargs):
    assert dropout_p == 0.0
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                         is_causal=causal, scale=softmax_scale)
    return out.transpose(1, 2).contiguous()
