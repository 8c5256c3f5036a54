#Requires -Version 7.4
<#
.SYNOPSIS
    Prints the compiled cmdlets' parameter metadata as JSON, for tools/helpgen.py.
.DESCRIPTION
    Help text (synopsis, descriptions, examples) lives in tools/helpgen.py; what the compiled cmdlets are (parameter
    sets, mandatory, position, pipeline input, aliases, types, wildcards) is read here from the built module, so the
    generated help cannot drift from the code. tests/pester/Help.Tests.ps1 compares the two.
.PARAMETER Manifest
    The module manifest to import (default: the built module, out/S3Mount/S3Mount.psd1).
#>
param([string] $Manifest = (Join-Path $PSScriptRoot '..' 'out' 'S3Mount' 'S3Mount.psd1'))

$ErrorActionPreference = 'Stop'
Import-Module $Manifest
$common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters

function Get-TypeName([type] $Type) {
    if ($Type -eq [System.Management.Automation.SwitchParameter]) { return 'SwitchParameter' }
    $name = if ($Type.IsGenericType -and $Type.GetGenericTypeDefinition() -eq [Nullable`1]) { $Type.GetGenericArguments()[0].Name } else { $Type.Name }
    switch -Regex ($name) {
        '^String$' { 'string' } '^String\[\]$' { 'string[]' } '^Int32$' { 'int' } '^Int64$' { 'long' } '^Object$' { 'object' }
        default { $_ }
    }
}

$cmdlets = foreach ($c in Get-Command -Module S3Mount -CommandType Cmdlet | Sort-Object Name) {
    $sets = foreach ($set in $c.ParameterSets) {
        [ordered]@{
            name       = $set.Name
            isDefault  = $set.IsDefault
            parameters = @($set.Parameters | Where-Object Name -NotIn $common | ForEach-Object {
                    [ordered]@{ name = $_.Name; mandatory = $_.IsMandatory; position = $_.Position; fromPipeline = $_.ValueFromPipeline; byPropertyName = $_.ValueFromPipelineByPropertyName }
                })
        }
    }
    $parameters = foreach ($p in $c.Parameters.Values | Where-Object Name -NotIn $common) {
        [ordered]@{
            name      = $p.Name
            type      = Get-TypeName $p.ParameterType
            aliases   = @($p.Aliases)
            wildcards = [bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
        }
    }
    [ordered]@{
        name        = $c.Name
        defaultSet  = $c.DefaultParameterSet
        sets        = @($sets)
        parameters  = @($parameters)
        outputTypes = @($c.OutputType | ForEach-Object Name)
    }
}
ConvertTo-Json -InputObject @($cmdlets) -Depth 6
