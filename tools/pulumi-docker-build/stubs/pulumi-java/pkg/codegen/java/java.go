// Package java is a stand-in for pulumi-java's codegen package: just the Java package metadata
// that pulumi-docker-build writes into its schema's "language" section (SDK generation only).
package java

// PackageInfo is the Java language section of a package schema.
type PackageInfo struct {
	Packages                        map[string]string `json:"packages,omitempty"`
	BasePackage                     string            `json:"basePackage"`
	BuildFiles                      string            `json:"buildFiles"`
	Dependencies                    map[string]string `json:"dependencies,omitempty"`
	GradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion"`
	GradleTest                      string            `json:"gradleTest"`
}
