"""Reference exporter for qnext: runs Hugging Face transformers' Qwen3-Next on CPU and dumps every canonical
node of docs/nodes.md in the format of docs/dump-format.md.

Modules:
  nodespec      parse docs/nodes.md and expand it for a model config
  dumpio        NPY / manifest writing, stats, checkpoint hashes
  capture       hooks and patches that observe a transformers forward pass
  export        the command line (`python -m reference.export`)
  make_fixtures builds the tiny test models and their reference dumps
"""

__version__ = "0.1.0"
