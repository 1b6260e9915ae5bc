"""Model variants the benches compare with the library's own model ("library"): each is a set
of constructor arguments of `MaskedAutoencoder`, never a patch of a library module. (Levers
measured and not kept, and their figures: `git log -- bench/`.)"""

VARIANTS = {
    "library": {},
    # The paper's "encoder w/ [M]" (table 1c): the encoder runs on all 1 + L tokens.
    "mask_tokens_in_encoder": {"mask_token_in_encoder": True},
}
