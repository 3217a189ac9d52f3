// Stand-in for github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3: the module proxy reachable
// here does not serve the version pulumi-docker-build requires. The provider only uses
// CSharpPackageInfo as schema metadata.
module github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3

go 1.24
