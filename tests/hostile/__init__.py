"""The hostile-input corpus: files and trainable names an attacker or an unlucky user might give."""
