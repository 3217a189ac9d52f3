// pause: the pod sandbox's process for the local real node (no image is pulled from a registry).
module twk.local/tools/pause

go 1.26.0
