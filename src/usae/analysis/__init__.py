"""What a trained USAE shows: universality metrics, evaluation passes, matching, galleries, figures,
tables, the scorecard and coordinated activation maximisation."""
