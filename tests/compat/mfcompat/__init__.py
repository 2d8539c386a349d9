"""Run Metaflow's own core test suite (``test/core``) against grange.

The flows and checks are generated at run time from a Metaflow checkout by
Metaflow's own formatter (see :mod:`mfcompat.generate`); nothing of Metaflow's
is stored in this repository. :mod:`mfcompat.adapt` swaps the ``metaflow``
imports for ``grange`` and adapts the output-format checks,
:mod:`mfcompat.runner` runs every graph x test combination and
:mod:`mfcompat.classify` names the cause of every failure.
"""
