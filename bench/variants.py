"""Bench-only variants of the model, to measure what a design choice is worth against the
library's own code ("library"). Each function returns the model class to build; those that
swap a piece of the library (the alternatives measured and not kept) patch it in their own
process only: benches build one variant per process."""


def library():
    from keras_mae import MaskedAutoencoder

    return MaskedAutoencoder


def mask_tokens_in_encoder():
    """The paper's "encoder w/ [M]" (table 1c): the encoder runs on all 1 + L tokens, removed
    patches replaced by a learned mask token; the decoder then embeds all of them."""
    import keras
    from keras import ops

    from keras_mae import MaskedAutoencoder
    from keras_mae.masking import random_masking

    class MaskTokensInEncoder(MaskedAutoencoder):
        def build(self, input_shape):
            super().build(input_shape)
            self.encoder_mask_token = self.add_weight(
                shape=(1, 1, self.encoder_dim),
                initializer=keras.initializers.RandomNormal(stddev=0.02),
                name="encoder_mask_token",
            )

        def call(self, images, noise=None, training=False):
            if noise is None:
                noise = self.sample_noise(ops.shape(images)[0])
            _, mask, ids_restore = random_masking(noise, self.num_keep)
            encoder, decoder = self.encoder, self.decoder
            pos_embed = ops.cast(encoder.pos_embed, self.compute_dtype)
            removed = ops.cast(mask[:, :, None], self.compute_dtype)
            mask_token = ops.cast(self.encoder_mask_token, self.compute_dtype)
            x = encoder.patch_embed(images) * (1 - removed) + mask_token * removed
            x = x + pos_embed[:, 1:]
            cls = ops.cast(encoder.cls_token, self.compute_dtype) + pos_embed[:, :1]
            x = ops.concatenate([ops.tile(cls, (ops.shape(x)[0], 1, 1)), x], axis=1)
            for block in encoder.blocks:
                x = block(x)
            x = decoder.embed(encoder.norm(x)) + ops.cast(decoder.pos_embed, self.compute_dtype)
            for block in decoder.blocks:
                x = block(x)
            pred = decoder.pred(decoder.norm(x))[:, 1:]
            return {"pred": pred, "mask": mask, "ids_restore": ids_restore}

    return MaskTokensInEncoder


def heads_first_attention():
    """Attention with q, k, v transposed once to [B, heads, N, head_dim] and two plain batched
    matmuls (tried for issue 5: no faster than the library's einsums, so not kept)."""
    from keras import ops

    from keras_mae import transformer

    def call(self, x):
        tokens, head_dim = x.shape[1], self.hidden_dim // self.num_heads
        qkv = ops.reshape(self.qkv(x), (-1, tokens, 3, self.num_heads, head_dim))
        query, key, value = ops.unstack(ops.transpose(qkv, (2, 0, 3, 1, 4)), 3)
        logits = ops.matmul(query * head_dim**-0.5, ops.swapaxes(key, -1, -2))
        weights = ops.cast(ops.softmax(ops.cast(logits, "float32"), axis=-1), x.dtype)
        out = ops.transpose(ops.matmul(weights, value), (0, 2, 1, 3))
        return self.proj(ops.reshape(out, (-1, tokens, self.hidden_dim)))

    transformer.MultiHeadSelfAttention.call = call
    return library()


def dot_product_attention():
    """Attention through `keras.ops.dot_product_attention` (on TensorFlow: einsums, softmax)."""
    from keras import ops

    from keras_mae import transformer

    def call(self, x):
        head_dim = self.hidden_dim // self.num_heads
        qkv = ops.reshape(self.qkv(x), (-1, x.shape[1], 3, self.num_heads, head_dim))
        query, key, value = ops.unstack(qkv, 3, axis=2)
        out = ops.dot_product_attention(query, key, value, scale=head_dim**-0.5)
        return self.proj(ops.reshape(out, (-1, x.shape[1], self.hidden_dim)))

    transformer.MultiHeadSelfAttention.call = call
    return library()


def take_along_axis_gather():
    """Visible-token selection and unshuffle by `ops.take_along_axis` (before issue 5)."""
    from keras import ops

    from keras_mae import decoder, encoder

    def take_tokens(tokens, indices):
        return ops.take_along_axis(tokens, indices[:, :, None], axis=1)

    encoder.take_tokens = decoder.take_tokens = take_tokens
    return library()


def recomputed_gelu():
    """The MLPs' exact GELU with a hand-written backward that recomputes Phi(x) from x, so that
    TensorFlow keeps no erfc term for the backward pass (tried for issue 5's memory target:
    -0.3 GiB peak RSS on ViT-B, batch 8, but ~2% slower, so not kept)."""
    import math

    from keras import ops

    from keras_mae import transformer

    @ops.custom_gradient
    def gelu(x):
        y = x * 0.5 * (1.0 + ops.erf(x * math.sqrt(0.5)))

        def grad(*args, upstream=None):
            dy = args[0] if upstream is None else upstream
            cdf = 0.5 - 0.5 * ops.erf(-x * math.sqrt(0.5))  # not the forward's erf: no CSE
            pdf = ops.exp(-0.5 * ops.square(x)) / math.sqrt(2 * math.pi)
            return dy * (cdf + x * pdf)

        return y, grad

    original_build = transformer.TransformerBlock.build

    def build(self, input_shape):
        original_build(self, input_shape)
        self.fc1.activation = gelu

    transformer.TransformerBlock.build = build
    return library()


def erfc_gelu():
    """The MLPs' GELU as Keras computes it, x * erfc(-x / sqrt 2) / 2, before keras_mae took the
    reference's erf formula: XLA's erfc costs two branches where erf is one polynomial."""
    import keras

    from keras_mae import transformer

    original_build = transformer.TransformerBlock.build

    def build(self, input_shape):
        original_build(self, input_shape)
        self.fc1.activation = lambda x: keras.activations.gelu(x, approximate=False)

    transformer.TransformerBlock.build = build
    return library()


def updates_after_backward():
    """Every AdamW update made to wait for the last gradient of the backward pass (the patch
    embedding's), through a zero it adds: XLA then needs no copy of the weights it updates."""
    from keras import ops

    from keras_mae import MaskedAutoencoder

    class UpdatesAfterBackward(MaskedAutoencoder):
        def compile(self, optimizer, **kwargs):
            apply = optimizer.apply
            last = next(i for i, v in enumerate(self.trainable_variables)
                        if "patch_embed" in v.path and len(v.shape) > 1)

            def apply_after_backward(gradients, variables=None):
                zero = 0.0 * ops.sum(gradients[last])
                return apply([g + zero for g in gradients], variables)

            optimizer.apply = apply_after_backward
            super().compile(optimizer=optimizer, **kwargs)

    return UpdatesAfterBackward


VARIANTS = {
    "library": library,
    "mask_tokens_in_encoder": mask_tokens_in_encoder,
    "heads_first_attention": heads_first_attention,
    "dot_product_attention": dot_product_attention,
    "take_along_axis_gather": take_along_axis_gather,
    "recomputed_gelu": recomputed_gelu,
    "updates_after_backward": updates_after_backward,
    "erfc_gelu": erfc_gelu,
}


def apply_variant(name):
    """The model class of variant `name`."""
    return VARIANTS[name]()
