"""The image and the compose files run as their users run them: `make image-check`, `make compose-check` and
`make rehearse`, on a Docker engine where one answers, else on podman with the bases our files name."""
