"""Model code: the model directory format (`artifacts`, `loading`), the backends (`linear`,
`multitask` + `inference`, `onnx`), the tiny test encoder and the lexicon-only baseline."""
