#!/bin/sh
# Downloads openai/clip-vit-base-patch16 (safetensors weights, config, vocabulary) from the
# Hugging Face hub into models/clip-vit-base-patch16. Exits 1 when the network is unreachable.
set -u
dest="${1:-models/clip-vit-base-patch16}"
base="${CS_MODEL_URL:-https://huggingface.co/openai/clip-vit-base-patch16/resolve/main}"
mkdir -p "$dest"
for f in config.json vocab.json merges.txt model.safetensors; do
    [ -s "$dest/$f" ] && continue
    echo "fetching $base/$f"
    if ! curl -fL --connect-timeout 10 -o "$dest/$f.part" "$base/$f"; then
        rm -f "$dest/$f.part"
        rmdir "$dest" 2>/dev/null
        echo "fetch-model: cannot download $f (offline?)" >&2
        exit 1
    fi
    mv "$dest/$f.part" "$dest/$f"
done
echo "model ready in $dest"
