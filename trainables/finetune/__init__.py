"""trainables/finetune."""
