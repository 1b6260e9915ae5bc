"""Model variants the benches compare with the library's own model ("library"): each is a
subclass of `MaskedAutoencoder` built from the library's public pieces, never a patch of a
library module. (Levers measured and not kept, and their figures: `git log -- bench/`.)"""


def library():
    from keras_mae import MaskedAutoencoder

    return MaskedAutoencoder


def mask_tokens_in_encoder():
    """The paper's "encoder w/ [M]" (table 1c): the encoder runs on all 1 + L tokens, removed
    patches' embeddings replaced by a learned mask token before the positions are added; the
    decoder then embeds all of them (no unshuffle: every token keeps its place)."""
    import keras
    from keras import ops

    from keras_mae import MaskedAutoencoder
    from keras_mae.layers.masking import random_masking

    class MaskTokensInEncoder(MaskedAutoencoder):
        def build(self, input_shape):
            super().build(input_shape)
            self.encoder_mask_token = self.add_weight(
                shape=(1, 1, self.backbone.hidden_dim),
                initializer=keras.initializers.RandomNormal(stddev=0.02),
                name="encoder_mask_token",
            )

        def call(self, images, noise=None, training=False):
            if noise is None:
                noise = self.sample_noise(ops.shape(images)[0])
            _, mask, ids_restore = random_masking(noise, self.num_keep)
            backbone, decoder, dtype = self.backbone, self.decoder, self.compute_dtype
            removed = ops.cast(mask[:, :, None], dtype)
            mask_token = ops.cast(self.encoder_mask_token, dtype)
            positions = ops.cast(backbone.pos_embed, dtype)[:, 1:]
            patches = backbone.patch_embed(images) * (1 - removed) + mask_token * removed
            tokens = backbone.encode_tokens(patches + positions, training=training)
            x = decoder.embed(tokens) + ops.cast(decoder.pos_embed, dtype)
            for block in decoder.blocks:
                x = block(x)
            pred = decoder.pred(decoder.norm(x))[:, 1:]
            return {"pred": pred, "mask": mask, "ids_restore": ids_restore}

    return MaskTokensInEncoder


VARIANTS = {"library": library, "mask_tokens_in_encoder": mask_tokens_in_encoder}


def model_class(name):
    """The model class of variant `name`."""
    return VARIANTS[name]()
