module lifeboat.local/node-probe

go 1.22
