"""The PyTorch reference for parity tests: transformers' ViTMAEForPreTraining with random,
non-trivial weights, written out in the forms users download.

The official-format names are written out here key by key from the reference's
`models_mae.py`, independently of keras_mae.convert, so that a naming slip on either side shows.
"""

import contextlib
import json

import numpy as np
import torch
from transformers import ViTMAEConfig, ViTMAEForPreTraining

from keras_mae.convert.huggingface import hf_config


def hf_config_for(preset, layer_norm_eps=1e-6, norm_pix_loss=True):
    """A ViTMAEConfig with the architecture of a preset (a `PRESETS` entry, or flat arguments)."""
    arguments = {**preset["backbone"], **preset["decoder"]} if "backbone" in preset else preset
    return ViTMAEConfig(**hf_config({
        **arguments, "mask_ratio": 0.75, "norm_pix_loss": norm_pix_loss,
        "layer_norm_epsilon": layer_norm_eps,
    }))


def random_reference(config, seed=0):
    """A ViTMAEForPreTraining whose every learned tensor is random and far from its init."""
    torch.manual_seed(seed)
    model = ViTMAEForPreTraining(config).eval()
    with torch.no_grad():
        # transformers 5.23 leaves a fresh model's sin-cos tables at zero, marked as initialised:
        # unmark them and build them with its own code.
        tables = (model.vit.embeddings.position_embeddings, model.decoder.decoder_pos_embed)
        for marked in (*tables, model.vit.embeddings.patch_embeddings.projection):
            marked._is_hf_initialized = False
        model.vit.embeddings.initialize_weights()
        model.decoder.initialize_weights(model.vit.embeddings.patch_embeddings.num_patches)
        for name, parameter in model.named_parameters():
            if "position_embeddings" in name or "pos_embed" in name:
                assert parameter.abs().sum() > 0, name
                continue  # fixed sin-cos tables
            if "norm" in name.rsplit(".", 2)[-2]:  # LayerNorms: scale near 1, shift near 0
                centre = 1.0 if name.endswith("weight") else 0.0
                parameter.copy_(centre + 0.2 * torch.randn_like(parameter))
            else:
                parameter.copy_(0.05 * torch.randn_like(parameter))
    return model


def _block_names(hf_prefix, official_prefix):
    return {
        f"{hf_prefix}.layernorm_before": f"{official_prefix}.norm1",
        f"{hf_prefix}.layernorm_after": f"{official_prefix}.norm2",
        f"{hf_prefix}.attention.o_proj": f"{official_prefix}.attn.proj",
        f"{hf_prefix}.mlp.fc1": f"{official_prefix}.mlp.fc1",
        f"{hf_prefix}.mlp.fc2": f"{official_prefix}.mlp.fc2",
    }


def official_state_dict(model, with_decoder=True):
    """The reference's `models_mae.py` state dict for the same weights (fused qkv)."""
    hf = model.state_dict()
    config = model.config
    names = {
        "vit.embeddings.cls_token": "cls_token",
        "vit.embeddings.position_embeddings": "pos_embed",
        "vit.embeddings.patch_embeddings.projection": "patch_embed.proj",
        "vit.layernorm": "norm",
    }
    blocks = [("vit.layers", "blocks", config.num_hidden_layers)]
    if with_decoder:
        names.update({
            "decoder.mask_token": "mask_token",
            "decoder.decoder_pos_embed": "decoder_pos_embed",
            "decoder.decoder_embed": "decoder_embed",
            "decoder.decoder_norm": "decoder_norm",
            "decoder.decoder_pred": "decoder_pred",
        })
        blocks.append(("decoder.decoder_layers", "decoder_blocks", config.decoder_num_hidden_layers))
    state = {}
    for hf_prefix, official_prefix, depth in blocks:
        for index in range(depth):
            names.update(_block_names(f"{hf_prefix}.{index}", f"{official_prefix}.{index}"))
            for kind in ("weight", "bias"):
                state[f"{official_prefix}.{index}.attn.qkv.{kind}"] = torch.cat(
                    [hf[f"{hf_prefix}.{index}.attention.{p}_proj.{kind}"] for p in "qkv"])
    for hf_name, official_name in names.items():
        if hf_name in hf:
            state[official_name] = hf[hf_name]
        else:
            for kind in ("weight", "bias"):
                state[f"{official_name}.{kind}"] = hf[f"{hf_name}.{kind}"]
    return state


def save_official(model, path, with_decoder=True, extra=None):
    """Write the weights as facebookresearch/mae does: torch.save({"model": ..., "args": ...})."""
    import argparse

    state = {**official_state_dict(model, with_decoder), **(extra or {})}
    torch.save({"model": state, "args": argparse.Namespace(norm_pix_loss=True)}, path)


def save_hf_legacy(model, folder):
    """Config + pytorch_model.bin under the names the Hub's ViTMAE checkpoints use
    (transformers 4.x: `encoder.layer.N.attention.attention.query`, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    renames = [(".attention.q_proj.", ".attention.attention.query."),
               (".attention.k_proj.", ".attention.attention.key."),
               (".attention.v_proj.", ".attention.attention.value."),
               (".attention.o_proj.", ".attention.output.dense."),
               (".mlp.fc1.", ".intermediate.dense."), (".mlp.fc2.", ".output.dense."),
               ("vit.layers.", "vit.encoder.layer.")]
    state = {}
    for key, value in model.state_dict().items():
        for old, new in renames:
            key = key.replace(old, new)
        state[key] = value.clone()
    torch.save(state, folder / "pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps(model.config.to_dict()))


def reference_outputs(model, images, noise):
    """Reference forward on NHWC images: pred, mask, ids_restore, loss and encoder tokens."""
    with torch.no_grad():
        pixels = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        out = model(pixel_values=pixels, noise=torch.from_numpy(noise))
        latent = model.vit(pixels, noise=torch.from_numpy(noise)).last_hidden_state
    return {"pred": out.logits.numpy(), "mask": out.mask.numpy(),
            "ids_restore": out.ids_restore.numpy(), "loss": float(out.loss), "latent": latent.numpy()}


@contextlib.contextmanager
def every_patch(model, batch):
    """Within: the reference keeps every patch, in order, given the masking noise yielded."""
    previous = model.config.mask_ratio
    model.config.mask_ratio = 0.0  # keep every patch; an ascending noise keeps their order
    try:
        order = torch.arange(model.vit.embeddings.patch_embeddings.num_patches, dtype=torch.float32)
        yield order.expand(batch, -1)
    finally:
        model.config.mask_ratio = previous


def reference_tokens(model, images):
    """The reference encoder's tokens [B, 1 + L, D] of every patch of NHWC images, in order."""
    with torch.no_grad(), every_patch(model, len(images)) as noise:
        pixels = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        return model.vit(pixels, noise=noise).last_hidden_state.numpy()


def reference_classifier_logits(model, images, fc_norm, head, epsilon=1e-6):
    """The reference's fine-tuned ViT (global pool): blocks, mean of patch tokens, fc_norm, head."""
    config = model.config
    with torch.no_grad():
        pixels = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        with every_patch(model, len(images)) as noise:
            hidden, _, _ = model.vit.embeddings(pixels, noise=noise)
        for layer in model.vit.layers:
            hidden = layer(hidden, None)
        pooled = torch.nn.functional.layer_norm(
            hidden[:, 1:].mean(dim=1), (config.hidden_size,), fc_norm[0], fc_norm[1], epsilon)
        return (pooled @ head[0].T + head[1]).numpy()
