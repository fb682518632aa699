"""The pipeline's steps, one job each: :mod:`fewlabels.pipeline` wires them.

Table steps (files in, arrays out, arrays in, files out):

- :mod:`.inputs`: read the table, its given labels and classes (load)
- :mod:`.embed`: item vectors and class vectors (embed)
- :mod:`.votes`: the rules' votes and the user's label matrix (votes)
- :mod:`.write`: the output table, the model folder, the report, all or nothing (write)

Array steps (a :class:`~fewlabels.pool.Pool` in, arrays out):

- :mod:`.check`: the pool's checks and the warnings on its labels
- :mod:`.choose`: the candidates, the fallback without labels, the k-NN graph, the
  cross-validated selection and the temperature (graph, select, calibrate)
- :mod:`.fit`: the chosen method on the pool (or its core, then the rest), the end model
- :mod:`.estimate`: the accuracy estimate and the report's honest figures

The fine-tuned encoder (:mod:`fewlabels.finetuned`), supervision on bags and unknown classes
(:mod:`fewlabels.groups`) are candidates one layer up; the pipeline calls them too.
"""
