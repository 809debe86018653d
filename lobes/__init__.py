"""Efficient Transformer speech separation lobes for SpeechBrain.

The lobes, each importing only torch and SpeechBrain (and, within the
lobes, ``lobes.attention``), at import paths that never move so that
exported models keep loading:

- ``lobes.attention``: the one attention primitive and the layers the
  lobes share;
- ``lobes.resepformer``: RE-SepFormer (``RESepFormer``), with
  ``lobes.resepformer_upstream`` converting SpeechBrain's RE-SepFormer
  weights;
- ``lobes.latent_xattn``: latent cross-attention (``LatentSepFormer``);
- ``lobes.fsmn_flash``: FSMN + flash attention (``FlashFormer``).

Around them:

- ``lobes.model``: encoder -> masknet -> decoder (``EncoderMaskerDecoder``)
  and the masknet contract (``capabilities``);
- ``lobes.files``: files and folders that appear only when complete
  (temporary name, then rename), for everything the package writes;
- ``lobes.errors``: every command line's errors in one line (the
  traceback under ``--debug`` or ``LOBES_DEBUG=1``);
- ``lobes.training``: the ``Separation`` Brain, its data, dynamic mixing,
  metrics and the recipe driver;
- ``lobes.inference``: separating recordings of any length, streaming,
  pretrained folders, export;
- ``lobes.corpus``: the embedded eSpeak NG corpus and the mixing maths;
- ``lobes.synthmix``, ``lobes.export``, ``lobes.separate``: the command
  lines (``python -m lobes.<name>``).
"""

__version__ = "0.1.0"
