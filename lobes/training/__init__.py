"""Training: the one ``Separation`` Brain behind every recipe, its data
(SpeechBrain separation CSVs, dynamic mixing), its metrics and the recipe
driver that ``recipes/*/train.py`` call."""
