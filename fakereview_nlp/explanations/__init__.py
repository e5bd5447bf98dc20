"""Why a review was flagged: occlusion explanations and their HTML page."""
