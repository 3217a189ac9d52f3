// Stand-in for github.com/pulumi/pulumi-java: the module proxy reachable here does not serve the
// version pulumi-docker-build requires. The provider only uses PackageInfo as schema metadata.
module github.com/pulumi/pulumi-java

go 1.24
