"""Auto-tuning: fine-tune a trained checkpoint until its FA/h and recall targets hold."""
