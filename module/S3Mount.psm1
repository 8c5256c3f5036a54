# S3Mount loader. The compiled cmdlets live in lib/ beside this file (the built module in out/S3Mount);
# imported from a source checkout (./S3Mount.psd1 at the repo root) they are taken from the build output.
$lib = Join-Path -Path $PSScriptRoot -ChildPath 'lib'
if (-not (Test-Path -LiteralPath (Join-Path -Path $lib -ChildPath 'S3Mount.dll'))) {
    $lib = [System.IO.Path]::Combine($PSScriptRoot, '..', 'out', 'S3Mount', 'module', 'lib')
}
$dll = Join-Path -Path $lib -ChildPath 'S3Mount.dll'
if (-not (Test-Path -LiteralPath $dll)) {
    throw [System.IO.FileNotFoundException]::new("S3Mount is not built: run 'dotnet build' or './build.ps1 -Task Build' in the repository first.", $dll)
}
Import-Module -Name $dll -ErrorAction Stop
Export-ModuleMember -Cmdlet '*'
