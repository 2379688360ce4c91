"""``ClipTrainer``: the ``transformers.Trainer`` both training paths use (the baseline's and ``finetune/``'s).

Two things Trainer does not take as arguments, done by overriding its hooks in a subclass rather
than by patching a Trainer instance, so that a renamed hook in a new ``transformers`` fails loudly
here (``tests/test_training.py`` exercises both):

- evaluation batches from a collator of their own: training crops clips at random, evaluation
  must see whole clips;
- training rows drawn by a given sampler (the speaker- or corpus-balanced one of
  :func:`ser_hf.training.balanced_sampler`).
"""

from __future__ import annotations

from transformers import Trainer


class ClipTrainer(Trainer):
    """``Trainer`` with ``eval_collator`` for evaluation batches and ``train_sampler`` for training rows."""

    def __init__(self, *args, eval_collator=None, train_sampler=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_collator, self.train_sampler = eval_collator, train_sampler

    def _get_train_sampler(self, train_dataset=None):
        if self.train_sampler is not None:
            return self.train_sampler
        return super()._get_train_sampler(train_dataset)

    def get_eval_dataloader(self, eval_dataset=None):
        # Trainer's own loader, so that its Accelerator prepares it: an unprepared one leaves the
        # end-of-data state at the training loader's and ``gather_for_metrics`` then cuts every batch
        # to the training set's last-batch remainder (metrics on 16 of 120 clips in a test).
        if self.eval_collator is None:
            return super().get_eval_dataloader(eval_dataset)
        train_collator, self.data_collator = self.data_collator, self.eval_collator
        try:
            return super().get_eval_dataloader(eval_dataset)
        finally:
            self.data_collator = train_collator
