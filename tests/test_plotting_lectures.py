"""Figures the lectures call from nst_tf.plotting: each returns a figure with the expected axes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import tensorflow as tf

from nst_tf import plotting


def test_show_luminance_chroma_keeps_the_sign_of_chroma_and_shows_luminance_in_grey():
    # 08's YIQ figure: Y in grey on [0, 1]; I and Q signed, on a diverging map centred on 0
    # (show_images would clip their negative half to 0).
    import matplotlib

    from nst_tf.controls import to_luminance

    rng = np.random.default_rng(0)
    image = rng.uniform(size=(1, 12, 16, 3)).astype(np.float32)
    y, chroma = (t.numpy() for t in to_luminance(tf.constant(image, tf.float64)))
    fig = plotting.show_luminance_chroma(image, y, chroma, suptitle="YIQ")
    try:
        shown = [ax for ax in fig.axes if ax.images and ax.get_title()]
        assert [ax.get_title().split(":")[0] for ax in shown] == ["RGB", "Y", "I", "Q"]
        assert len(fig.axes) == 7  # four images and a colour bar for each of Y, I, Q
        luminance, i_axis, q_axis = (ax.images[0] for ax in shown[1:])
        assert luminance.get_cmap().name == "gray" and luminance.get_clim() == (0.0, 1.0)
        for axis, channel in ((i_axis, 0), (q_axis, 1)):
            low, high = axis.get_clim()
            assert axis.get_cmap().name == "RdBu_r" and high > 0 and low == -high
            data = np.asarray(axis.get_array())
            assert data.min() < 0 < data.max()  # the negative half is drawn, not clipped
            np.testing.assert_allclose(data, chroma[0, ..., channel])
            assert high >= np.abs(chroma).max() - 1e-12
        assert fig._suptitle.get_text() == "YIQ"
    finally:
        matplotlib.pyplot.close(fig)
