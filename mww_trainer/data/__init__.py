"""Data: audio in the device's form, ingest and split, features and their cache, augmentation,
training windows and batches."""
