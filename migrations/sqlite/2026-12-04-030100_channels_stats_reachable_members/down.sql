DROP TABLE stats_channel_months;
