"""`Task`: what the models built on a `ViTBackbone` share, as keras-hub's tasks do: the
backbone is serialised once, under the `backbone` key of the task's config, and the image
geometry is the backbone's."""

import keras


class Task(keras.Model):
    """A model on `self.backbone` (set by the subclass before anything reads it)."""

    image_size = property(lambda self: self.backbone.image_size)
    patch_size = property(lambda self: self.backbone.patch_size)
    num_channels = property(lambda self: self.backbone.num_channels)
    grid_size = property(lambda self: self.backbone.grid_size)
    num_patches = property(lambda self: self.backbone.num_patches)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("backbone"), dict):
            config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)

    def get_config(self):
        return {**super().get_config(), "backbone": keras.layers.serialize(self.backbone)}
