"""The ground truth critics judge by and readers ground remarks in: the judgement of a trajectory
(``judgement``), the moments a person watching could comment on (``moments``) and the time windows a
remark can truthfully name (``temporal``)."""
