"""The campaign store: one SQLite file per campaign folder (``DIR/threadstorm.sqlite``).

``db`` opens, writes and reads it (``Store.create``, ``Store.open``); ``records`` holds the plain
frozen values it hands back (``BucketRecord``, ``CrashRecord``, ``CampaignRecord``...).  Every
finding is committed as it arrives, so a campaign killed at any moment keeps what it saw; reports,
``repro``, ``minimise`` and ``check`` read the same file, even while a campaign writes it.
"""
